--[[
batch_cancel: cancel a running batch in one atomic step: its waiting, delayed and retrying jobs are removed,
its running jobs finish.

The batch's status becomes cancelled (no then or catch callback fires after this; jobs can no longer be added).
Each removed job ends as aborted, like lua/abort.lua does it (record, counters, event, a failed result
queue_system.errors.JobAborted for a producer waiting on it) and counts as cancelled in the batch
(include/batch.lua); when nothing is left running, the batch finishes and its finally callback fires. Cancelling
also drops the holds of writers adding jobs in several calls, so a batch whose writer died midway can be ended.

ARGV[1] key prefix   ARGV[2] now ms   ARGV[3] events maxlen   ARGV[4] batch id
ARGV[5] result ttl ms ("0" = store no result, "-1" = keep it forever)
Returns { "cancelled", jobs removed } or { "not_found" | "finished", status }.
]]
--!include state
local prefix, now, maxlen, bid, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local key = prefix .. ":batch:" .. bid
local status = redis.call("HGET", key, "status")
if not status then return { "not_found", "" } end
if status ~= "running" then return { "finished", status } end
-- holds go too: a writer that died between two calls must not keep a cancelled batch from finishing
redis.call("HSET", key, "status", "cancelled", "cancelled_ms", now, "holds", 0)
local QUEUED = { waiting = true, delayed = true, retrying = true }
local members = redis.call("HGETALL", key .. ":jobs")
local removed = 0
for i = 1, #members, 2 do
  local id = members[i]
  if members[i + 1] == "pending" then
    local rec = redis.call("HMGET", prefix .. ":meta:" .. id, "s", "q", "tg", "f", "et")
    if QUEUED[rec[1]] then
      local queue = rec[2] or "default"
      local qkey = queue_key_of(queue)
      local tries = redis.call("GET", "arq:retry:" .. id) or "0"
      end_job(prefix, now, maxlen, id, queue, "aborted", "JobAborted: its batch was cancelled",
        { rec[1], rec[3], rec[4], tries })
      redis.call("ZREM", qkey, id)
      redis.call("DEL", "arq:job:" .. id, "arq:retry:" .. id)
      if ttl ~= "0" then
        local result = '{"t":' .. tries .. ',"f":' .. cjson.encode(rec[4] or "") .. ',"a":[],"k":{},"et":' ..
          (rec[5] or "0") .. ',"s":false,"r":{"__qs__":"exception","type":"queue_system.errors.JobAborted",' ..
          '"message":"its batch was cancelled"},"st":' .. now .. ',"ft":' .. now .. ',"q":' ..
          cjson.encode(qkey) .. ',"id":' .. cjson.encode(id) .. '}'
        if ttl == "-1" then
          redis.call("SET", "arq:result:" .. id, result)
        else
          redis.call("SET", "arq:result:" .. id, result, "PX", ttl)
        end
      end
      removed = removed + 1
    end
  end
end
if redis.call("HGET", key, "pending") == "0" and not redis.call("HGET", key, "finished_ms") then
  batch_settle(prefix, now, maxlen, bid, false)  -- nothing was left to end (the jobs ended while a writer held it)
end
flush_counts()
return { "cancelled", removed }
