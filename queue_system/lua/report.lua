--[[
report: a running job's progress or log lines, written only while this attempt still owns the job.

The job's record must say active and, under our engine, its lease must still hold this attempt's token (a stale
attempt that lost its lease writes nothing). Progress goes into the record (pr, pm) and emits a "progress"
event; log lines are appended to {prefix}:logs:{id}, which keeps the last N. Both stay readable after the job
ends, for as long as its record is kept.

ARGV[1] key prefix   ARGV[2] events maxlen   ARGV[3] job id   ARGV[4] token ("" under arq's own worker)
ARGV[5] "progress": ARGV[6] percent, ARGV[7] message     or     "log": ARGV[6] lines kept, ARGV[7..] lines
Returns 1 if written, 0 if this attempt no longer owns the job.
]]
--!include state
local prefix, maxlen, id, token = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local meta = prefix .. ":meta:" .. id
local rec = redis.call("HMGET", meta, "s", "q", "f", "tg")
if rec[1] ~= "active" or (token ~= "" and redis.call("GET", "arq:in-progress:" .. id) ~= token) then
  return 0
end
if ARGV[5] == "progress" then
  redis.call("HSET", meta, "pr", ARGV[6], "pm", ARGV[7])
  emit(prefix, maxlen, "progress", id, rec[2] or "", rec[3], rec[4], "progress", ARGV[6], "message", ARGV[7])
else
  local key = prefix .. ":logs:" .. id
  for i = 7, #ARGV do redis.call("RPUSH", key, ARGV[i]) end
  redis.call("LTRIM", key, -tonumber(ARGV[6]), -1)
end
return 1
