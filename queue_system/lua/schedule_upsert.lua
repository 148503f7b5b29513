--[[
schedule_upsert: store a schedule's definition and start its clock, unless the same definition is stored already.

Every worker declares its crons at start-up, and several start together: the first one writes the definition
and its first tick; the others find the same version and change nothing, so the stored next tick -- possibly
long past, after an outage -- survives restarts and the misfire policy can see what was missed. A changed
definition (new version) starts over from ARGV[5], forgetting any pending claim of the old one. With ARGV[6] =
"1" (a run-time "add" that must not replace) an existing schedule of that name is left alone and 0 returned.

ARGV[1] key prefix   ARGV[2] name   ARGV[3] definition JSON   ARGV[4] version   ARGV[5] first tick ms
ARGV[6] "1" = only create
Returns 1 if the definition was written, 0 if it was already there.
]]
local defs = ARGV[1] .. ":schedules"
local state = ARGV[1] .. ":schedule:" .. ARGV[2]
local exists = redis.call("HEXISTS", defs, ARGV[2]) == 1
if exists and ARGV[6] == "1" then
  return 0
end
if exists and redis.call("HGET", state, "v") == ARGV[4] then
  return 0
end
redis.call("HSET", defs, ARGV[2], ARGV[3])
redis.call("DEL", state .. ":pending")
redis.call("HSET", state, "v", ARGV[4], "next", ARGV[5])
redis.call("PUBLISH", defs .. ":changed", ARGV[2])  -- schedulers wait for their next tick or this
return 1
