--[[
claim: promote due jobs, then lease up to N ready jobs from the worker's queues, in queue order and priority
order within a queue, in one atomic step.

A job is ready when its score <= now and nobody holds its lease. The lease is arq's in-progress key (so a stock
arq worker sharing the queue respects it); its value is this attempt's fencing token and it expires after the
lease time unless the worker renews it (renew.lua). A worker whose lease now holds another token has lost the
job, and finish.lua refuses its outcome. Claiming counts the try (arq's retry key), so a crashed attempt counts.

KEYS    the queue zsets, in the order the worker prefers them; the last one may be the inbox (promote only)
ARGV[1] now ms   ARGV[2] max jobs   ARGV[3] lease ms   ARGV[4] token prefix (unique per worker process)
ARGV[5] key prefix   ARGV[6] number of KEYS to claim from (the rest are only promoted)   ARGV[7..] queue names
Returns { next_due_ms (or -1), then per job: queue index, id, score, token, try, payload, q, p, tg, et, ended }

When this worker's slots are full before a queue's ready jobs run out, a wake-up token is left on that queue's
wake list, so the next idle worker joins in at once instead of at its next idle poll.
]]
--!include promote
local now, want, claim_count = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[6])
local out = { -1 }
local next_due = nil
local n = 0
for k, key in ipairs(KEYS) do
  promote(key, ARGV[6 + k], now, 100, ARGV[5])
  if k <= claim_count then
    local candidates = n < want and redis.call("ZRANGEBYSCORE", key, "-inf", now, "LIMIT", 0, (want - n) * 2 + 8) or {}
    for _, id in ipairs(candidates) do
      if n >= want then
        redis.call("LPUSH", ARGV[5] .. ":wake:" .. ARGV[6 + k], "1")
        redis.call("LTRIM", ARGV[5] .. ":wake:" .. ARGV[6 + k], 0, 0)
        break
      end
      local lease = "arq:in-progress:" .. id
      if redis.call("EXISTS", lease) == 0 then
        local try = redis.call("INCR", "arq:retry:" .. id)
        redis.call("PEXPIRE", "arq:retry:" .. id, 88400000)
        local token = ARGV[4] .. ":" .. id .. ":" .. try
        redis.call("SET", lease, token, "PX", ARGV[3])
        local meta = redis.call("HMGET", ARGV[5] .. ":meta:" .. id, "q", "p", "tg", "et", "ended")
        out[#out + 1] = k
        out[#out + 1] = id
        out[#out + 1] = redis.call("ZSCORE", key, id)
        out[#out + 1] = token
        out[#out + 1] = try
        out[#out + 1] = redis.call("GET", "arq:job:" .. id) or ""
        for j = 1, 5 do out[#out + 1] = meta[j] or "" end
        n = n + 1
      end
    end
    local upcoming = redis.call("ZRANGEBYSCORE", key, "(" .. now, "+inf", "WITHSCORES", "LIMIT", 0, 1)
    if upcoming[2] and (next_due == nil or tonumber(upcoming[2]) < next_due) then
      next_due = tonumber(upcoming[2])
    end
  end
end
if next_due then out[1] = tostring(next_due) end
return out
