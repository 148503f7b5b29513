--[[
schedule_settle: forget claimed ticks of a schedule once their jobs are enqueued.

ARGV[1] key prefix   ARGV[2] name   ARGV[3..] ticks (ms)
Returns how many were still pending.
]]
local pending = ARGV[1] .. ":schedule:" .. ARGV[2] .. ":pending"
local cleared = 0
for i = 3, #ARGV do
  cleared = cleared + redis.call("HDEL", pending, ARGV[i])
end
return cleared
