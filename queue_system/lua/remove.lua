--[[
remove: delete one job that is not running -- queued (waiting, delayed, retrying) or finished (completed, failed,
aborted) -- with its payload, result, record and logs, in one atomic step so its queue's counts stay exact. A
running job is left alone (abort it instead). Emits a "removed" event.

ARGV[1] key prefix   ARGV[2] events maxlen   ARGV[3] job id
Returns { outcome, state } with outcome "removed", "active" (nothing changed) or "not_found".
]]
--!include state
--!include retain
local prefix, maxlen, id = ARGV[1], ARGV[2], ARGV[3]
local meta = prefix .. ":meta:" .. id
local rec = redis.call("HMGET", meta, "s", "q", "tg", "f")
local state, queue = rec[1], rec[2]
if not state or not queue then return { "not_found", "" } end
if state == "active" then return { "active", state } end
if state == "completed" or state == "failed" or state == "aborted" then
  remove_records(prefix, queue, state, { id })
  redis.call("DEL", "arq:job:" .. id, "arq:retry:" .. id)
else
  redis.call("ZREM", queue_key_of(queue), id)
  redis.call("DEL", "arq:job:" .. id, "arq:retry:" .. id, "arq:result:" .. id, meta, prefix .. ":logs:" .. id)
  move(prefix, id, queue, rec[3], state, false, 0, rec[4])
end
emit(prefix, maxlen, "removed", id, queue, rec[4], rec[3] or "", "state", state)
flush_counts()
return { "removed", state }
