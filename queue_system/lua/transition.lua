--[[
transition: the state moves of one job under arq's own Worker, which runs no claim or finish script of ours.

arq picks, leases and finishes the job in its own code; the runner calls this at the attempt's start and end so
the job's record, counters, indexes and events follow (include/state.lua). Limits: arq's own pick-up is not
atomic with this, so between arq's pick and "start" the job still counts as waiting; and a job arq fails without
calling our function (arq's own "job expired" or "max retries exceeded") keeps its last recorded state.

ARGV[1] key prefix   ARGV[2] now ms   ARGV[3] events maxlen   ARGV[4] job id   ARGV[5] queue name
ARGV[6] step: start | completed | failed | aborted | retry   ARGV[7] function name   ARGV[8] error ("" = none)
ARGV[9] keep count (-1 = any number)   ARGV[10] keep age ms (-1 = forever)
Returns for "start": "paused" (the queue is paused: the try is given back and the job must be re-queued),
"abort" (an abort was requested: do not run it) or "ok"; for the other steps "ok".
]]
--!include state
--!include retain
local prefix, now, maxlen, id, queue, step, fn, err = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local meta = prefix .. ":meta:" .. id
local rec = redis.call("HMGET", meta, "s", "tg", "f")
if step == "start" then
  if redis.call("SISMEMBER", prefix .. ":paused", queue) == 1 then
    redis.call("DECR", "arq:retry:" .. id)
    return "paused"
  end
  if rec[1] == "aborted" or redis.call("SISMEMBER", prefix .. ":aborting", id) == 1 then
    return "abort"
  end
  move(prefix, id, queue, rec[2], rec[1], "active", now, rec[3])
  redis.call("HSET", meta, "s", "active", "st", now, "q", queue)
  if not rec[3] then redis.call("HSET", meta, "f", fn) end
elseif step == "retry" then
  redis.call("HINCRBY", meta, "ended", 1)
  redis.call("HSET", meta, "s", "retrying", "err", err)
  move(prefix, id, queue, rec[2], rec[1], "retrying", now, rec[3])
  emit(prefix, maxlen, "retrying", id, queue, fn, rec[2], "error", err)
else
  if rec[1] ~= "aborted" then end_job(prefix, now, maxlen, id, queue, step, err, false) end
  trim(prefix, queue, step, tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(now), 1000)
end
flush_counts()
return "ok"
