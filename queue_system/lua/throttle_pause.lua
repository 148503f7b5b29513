-- throttle_pause: no start under a scope for ms (the remote answered 429 with Retry-After), for every process.
-- Extends a pause, never shortens one another process set. ARGV: prefix, scope, ms. Returns the pause left (ms).
local key = ARGV[1] .. ":throttle-pause:" .. ARGV[2]
local ms = tonumber(ARGV[3])
local left = redis.call("PTTL", key)
if left < ms then
  redis.call("SET", key, "1", "PX", ms)
  return ms
end
return left
