--[[
claim: take up to N ready jobs of one queue for this worker, in priority order, atomically.

A job is ready when its score <= now and no worker holds its in-progress key. Claiming sets that key (arq's
own marker, so a stock arq worker sharing the queue respects it). Because check and set happen in one script,
workers racing for one job cannot both win.

KEYS[1] queue zset
ARGV[1] now ms   ARGV[2] max jobs to claim   ARGV[3] in-progress ttl ms
Returns a flat list: id1, score1, id2, score2 ...
]]
local want = tonumber(ARGV[2])
local candidates = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", ARGV[1], "WITHSCORES", "LIMIT", 0, want * 4)
local claimed = {}
local n = 0
for i = 1, #candidates, 2 do
  if n >= want then break end
  local id = candidates[i]
  if redis.call("SET", "arq:in-progress:" .. id, "1", "NX", "PX", ARGV[3]) then
    claimed[#claimed + 1] = id
    claimed[#claimed + 1] = candidates[i + 1]
    n = n + 1
  end
end
return claimed
