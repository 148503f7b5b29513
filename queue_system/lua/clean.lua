--[[
clean: remove up to a batch of a queue's jobs in one state, finished (or enqueued, for queued states) at or before
a cutoff; one atomic step per batch, so counts stay exact while a clean runs next to busy workers.

Finished states (completed, failed, aborted) are read from their index, oldest first, and their records removed
(include/retain.lua). Queued states (waiting, delayed, retrying) are read from the queue's score band -- ready
scores (< 1e12) for waiting, due times for delayed and retrying -- from an offset the caller carries between
batches; a job is removed with its payload, record and logs when its record says that state and it was
enqueued at or before the cutoff. Active jobs are never cleaned (abort them). One "cleaned" event per batch.

ARGV[1] key prefix   ARGV[2] now ms   ARGV[3] events maxlen   ARGV[4] queue name   ARGV[5] state
ARGV[6] cutoff ms   ARGV[7] batch size   ARGV[8] offset into the band (queued states; "0" at first)
Returns { removed, next offset (-1 when there is nothing more to look at) }
]]
--!include state
--!include retain
local prefix, maxlen, queue, state = ARGV[1], ARGV[3], ARGV[4], ARGV[5]
local cutoff, batch, offset = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local removed, next_offset = 0, -1
if state == "completed" or state == "failed" or state == "aborted" then
  local ids = redis.call("ZRANGEBYSCORE", prefix .. ":jobs:" .. queue .. ":" .. state, "-inf", cutoff,
    "LIMIT", 0, batch)
  removed = remove_records(prefix, queue, state, ids)
  if #ids == batch then next_offset = 0 end
elseif state == "waiting" or state == "delayed" or state == "retrying" then
  local qkey = queue_key_of(queue)
  local low, high = "-inf", "(1e12"
  if state ~= "waiting" then low, high = "1e12", "+inf" end
  local ids = redis.call("ZRANGEBYSCORE", qkey, low, high, "LIMIT", offset, batch)
  local kept = 0
  for _, id in ipairs(ids) do
    local meta = prefix .. ":meta:" .. id
    local rec = redis.call("HMGET", meta, "s", "tg", "et", "f")
    if rec[1] == state and (tonumber(rec[3]) or 0) <= cutoff and redis.call("EXISTS", "arq:in-progress:" .. id) == 0 then
      redis.call("ZREM", qkey, id)
      redis.call("DEL", "arq:job:" .. id, "arq:retry:" .. id, meta, prefix .. ":logs:" .. id)
      move(prefix, id, queue, rec[2], state, false, 0, rec[4])
      batch_job_ended(prefix, ARGV[2], maxlen, id, rec[2], "aborted")  -- its batch counts it as cancelled
      removed = removed + 1
    else
      kept = kept + 1
    end
  end
  if #ids == batch then next_offset = offset + kept end
else
  return redis.error_reply("clean: state must be completed, failed, aborted, waiting, delayed or retrying")
end
if removed > 0 then emit(prefix, maxlen, "cleaned", "", queue, "", "{}", "state", state, "count", removed) end
flush_counts()
return { removed, next_offset }
