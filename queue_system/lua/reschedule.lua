--[[
reschedule: move a job that has not started to a new due time, in one atomic step.

A waiting or delayed job gets the deferred score of its new time (due ms + (priority + 1) / 10, as enqueue.lua
writes it) and becomes delayed; its old time is gone with its old score, so the old run never happens. A time in
the past makes it due at once (the next claim promotes it). Claiming (claim.lua) is atomic too, so a job a worker
is about to pick is either claimed first (and reported here as started) or rescheduled first (and not claimed).
A job that started (active), is between tries (retrying) or ended is not changed and its state is reported.
The queue's wake list gets a token, so an idle worker recomputes its wait for the next due job.

ARGV[1] key prefix   ARGV[2] now ms   ARGV[3] events maxlen   ARGV[4] job id   ARGV[5] new due ms
ARGV[6] payload ttl ms from now (due + the job expiry, so the payload outlives the new time)
Returns { outcome, the state the job was in }: outcome "rescheduled", "started" or "not_found".
]]
--!include state
local prefix, now, maxlen, id, due = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local meta = prefix .. ":meta:" .. id
local rec = redis.call("HMGET", meta, "s", "q", "p", "tg", "f")
local state = rec[1]
if not state then
  return { "not_found", "" }
end
if state ~= "waiting" and state ~= "delayed" then
  return { "started", state }
end
local queue = rec[2] or "default"
local qkey = queue_key_of(queue)
if not redis.call("ZSCORE", qkey, id) then
  return { "not_found", state }
end
local score = due + (tonumber(rec[3] or "2") + 1) / 10
redis.call("ZADD", qkey, "XX", score, id)
redis.call("PEXPIRE", "arq:job:" .. id, ARGV[6])
move(prefix, id, queue, rec[4], state, "delayed", now, rec[5], score)  -- delayed already: re-scored in its indexes
if state ~= "delayed" then redis.call("HSET", meta, "s", "delayed") end
emit(prefix, maxlen, "rescheduled", id, queue, rec[5], rec[4], "due", ARGV[5])
redis.call("LPUSH", prefix .. ":wake:" .. queue, "1")
redis.call("LTRIM", prefix .. ":wake:" .. queue, 0, 0)
flush_counts()
return { "rescheduled", state }
