--[[
abort: abort one job by id, in one atomic step.

A waiting, delayed or retrying job is taken off its queue and its payload deleted; it becomes aborted and gets a
failed result (queue_system.errors.JobAborted), so a producer waiting on job.result() learns it at once. An
active job is marked in {prefix}:aborting and every worker is told on the control channel; the worker running it
cancels it and records it as aborted (finish.lua), a worker that missed the message does so at its next lease
renewal, and a worker that claims it after its previous worker died does so without running it. An unknown id
writes nothing, so a job enqueued later under that id runs normally (unlike arq's abort, python-arq/arq#485).

ARGV[1] key prefix   ARGV[2] now ms   ARGV[3] events maxlen   ARGV[4] job id
ARGV[5] result ttl ms ("0" = store no result, "-1" = keep it forever)
ARGV[6] "1" = cancel only a job that has not started: an active one is left running and reported "started"
Returns { outcome, the state the job was in }: outcome "aborted" (taken off its queue), "cancelling" (active:
its worker was told), "started" (active, with ARGV[6] = "1"), "finished" (it had ended already) or "not_found"
(no record of it).
]]
--!include state
local prefix, now, maxlen, id = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local meta = prefix .. ":meta:" .. id
local rec = redis.call("HMGET", meta, "s", "q", "tg", "f", "et")
local state = rec[1]
if not state then
  return { "not_found", "" }
end
if state == "active" and ARGV[6] == "1" then
  return { "started", state }
end
if state == "active" then
  redis.call("SADD", prefix .. ":aborting", id)
  redis.call("PUBLISH", prefix .. ":control", "abort " .. id)
  return { "cancelling", state }
end
if state ~= "waiting" and state ~= "delayed" and state ~= "retrying" then
  return { "finished", state }
end
local queue = rec[2] or "default"
local qkey = queue_key_of(queue)
local tries = redis.call("GET", "arq:retry:" .. id) or "0"
end_job(prefix, now, maxlen, id, queue, "aborted", "JobAborted: aborted before it ran", { state, rec[3], rec[4], tries })
redis.call("ZREM", qkey, id)
redis.call("DEL", "arq:job:" .. id, "arq:retry:" .. id)
if ARGV[5] ~= "0" then
  local result = '{"t":' .. tries .. ',"f":' .. cjson.encode(rec[4] or "") .. ',"a":[],"k":{},"et":' ..
    (rec[5] or "0") .. ',"s":false,"r":{"__qs__":"exception","type":"queue_system.errors.JobAborted",' ..
    '"message":"aborted before it ran"},"st":' .. now .. ',"ft":' .. now .. ',"q":' .. cjson.encode(qkey) ..
    ',"id":' .. cjson.encode(id) .. '}'
  if ARGV[5] == "-1" then
    redis.call("SET", "arq:result:" .. id, result)
  else
    redis.call("SET", "arq:result:" .. id, result, "PX", ARGV[5])
  end
end
flush_counts()
return { "aborted", state }
