--[[
pause: pause or resume a queue. A paused queue is in {prefix}:paused, which claim.lua skips: workers take
nothing new from it and running jobs finish. It lives in Redis, so it survives worker restarts. Resuming leaves a
wake-up token so idle workers start at once, in priority order as always.

ARGV[1] key prefix   ARGV[2] events maxlen   ARGV[3] "pause" or "resume"   ARGV[4] queue name
Returns 1 if the queue's state changed, 0 if it already was paused / running.
]]
--!include state
local prefix, maxlen, action, queue = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
redis.call("SADD", prefix .. ":queues", queue)
local changed
if action == "pause" then
  changed = redis.call("SADD", prefix .. ":paused", queue)
  if changed == 1 then emit(prefix, maxlen, "paused", "", queue, "", "{}") end
else
  changed = redis.call("SREM", prefix .. ":paused", queue)
  if changed == 1 then
    redis.call("LPUSH", prefix .. ":wake:" .. queue, "1")
    redis.call("LTRIM", prefix .. ":wake:" .. queue, 0, 0)
    emit(prefix, maxlen, "resumed", "", queue, "", "{}")
  end
end
return changed
