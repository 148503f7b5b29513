--[[
renew: extend the leases this worker still holds; report the ones it lost and the ones whose abort was requested.

The abort check is the fallback for a worker that missed the abort message on the control channel (it was
reconnecting): an abort is then carried out at the next renewal instead of at once.

KEYS   the lease keys (arq:in-progress:id) of the worker's running jobs
ARGV[1] lease ms   ARGV[2] key prefix   ARGV[3..] the matching tokens
A job holding concurrency-cap slots (include/limits.lua) has them extended with its lease, so a slot lives
exactly as long as the lease: a killed worker's slot comes back when its lease would have run out.

Returns { the 1-based indexes of leases that are no longer this worker's (expired or taken over),
          the 1-based indexes of jobs whose abort was requested }
]]
--!include state
--!include limits
local limited = load_limits(ARGV[2])
local lost, aborting = {}, {}
local skip = string.len("arq:in-progress:")
for i, key in ipairs(KEYS) do
  if redis.call("GET", key) == ARGV[i + 2] then
    redis.call("PEXPIRE", key, ARGV[1])
    if limited then renew_caps(ARGV[2], string.sub(key, skip + 1), ARGV[1]) end
    if redis.call("SISMEMBER", ARGV[2] .. ":aborting", string.sub(key, skip + 1)) == 1 then
      aborting[#aborting + 1] = i
    end
  else
    lost[#lost + 1] = i
  end
end
return { lost, aborting }
