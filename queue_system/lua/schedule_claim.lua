--[[
schedule_claim: claim the due ticks of one schedule and advance its next tick, in one atomic step.

This is what makes a schedule fire exactly once however many workers look at it: each worker reads the stored
next tick, works out what is due, and asks to move it from the value it read to the new one. Only the first
request finds its expected value; a worker that read an older value (it was slow, or paused with SIGSTOP past a
tick) finds it changed and gets 0, so there is no leader to elect and nothing a paused process can double-fire.
The claimed ticks are kept in {prefix}:schedule:{name}:pending (tick -> claim time) until the claimer confirms
them enqueued (schedule_settle.lua); a claimer that died in between leaves them for another worker to enqueue
again under the same job ids (which enqueue.lua deduplicates). A schedule removed or redefined meanwhile (version changed) is not claimed.

ARGV[1] key prefix   ARGV[2] name   ARGV[3] expected next ms   ARGV[4] new next ms   ARGV[5] now ms
ARGV[6] claimed ticks (JSON array of strings, may be empty)   ARGV[7] version   ARGV[8] number of ticks
Returns 1 if claimed, 0 if another worker was first (or the schedule changed).
]]
local state = ARGV[1] .. ":schedule:" .. ARGV[2]
if redis.call("HEXISTS", ARGV[1] .. ":schedules", ARGV[2]) == 0 then
  return 0
end
local current = redis.call("HMGET", state, "next", "v")
if current[1] ~= ARGV[3] or current[2] ~= ARGV[7] then
  return 0
end
redis.call("HSET", state, "next", ARGV[4], "checked", ARGV[5])
if ARGV[8] ~= "0" then
  local pending = state .. ":pending"
  for _, tick in ipairs(cjson.decode(ARGV[6])) do
    redis.call("HSET", pending, tick, ARGV[5])
  end
  redis.call("HSET", state, "last", ARGV[5])
  redis.call("HINCRBY", state, "fired", ARGV[8])
end
return 1
