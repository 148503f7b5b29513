--[[
renew: extend the leases this worker still holds; report the ones it lost.

KEYS   the lease keys (arq:in-progress:id) of the worker's running jobs
ARGV[1] lease ms, then ARGV[2..] the matching tokens
Returns the 1-based indexes of leases that are no longer this worker's (expired or taken over).
]]
local lost = {}
for i, key in ipairs(KEYS) do
  if redis.call("GET", key) == ARGV[i + 1] then
    redis.call("PEXPIRE", key, ARGV[1])
  else
    lost[#lost + 1] = i
  end
end
return lost
