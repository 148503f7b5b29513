--[[
batch_add: create a batch with its first jobs, or add jobs to a running batch, in one atomic step.

The jobs are written as enqueue.lua writes them (include/batch.lua's batch_insert) and entered as pending
members in the same step, so no member can end before the batch counts it, and a batch that finished (or was
cancelled) refuses the jobs instead of gaining members that would never be counted. A batch created with no jobs
finishes at once (its then and finally callbacks fire). Each job carries the tag batch=<batch id>.
Many jobs are written in several calls (one call must not block Redis for long): the first takes a hold and
the last releases it, and a held batch does not finish, so it cannot finish between two calls of one writer.
A batch cancelled between two calls refuses the rest (and the last call still releases the hold).

ARGV[1] key prefix   ARGV[2] now ms   ARGV[3] batch id
ARGV[4] JSON array of jobs, each as enqueue.lua takes it
ARGV[5] JSON object of the batch's fields to create it with ("" = add to an existing batch)
ARGV[6] "1": this call takes a hold (the first of several)   ARGV[7] "1": this call releases it (the last)
ARGV[8] events maxlen
Returns { "ok", one 1 (created) or 0 (id taken) per job } or { "exists" | "not_found" | "closed", status }.
]]
--!include state
local prefix, now, bid = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local key = prefix .. ":batch:" .. bid
local status = redis.call("HGET", key, "status")
local function release()
  if ARGV[7] == "1" then
    redis.call("HINCRBY", key, "holds", -1)
    batch_settle(prefix, now, ARGV[8], bid, false)
  end
end
if ARGV[5] ~= "" then
  if status then return { "exists", status } end
  local fields = cjson.decode(ARGV[5])
  for name, value in pairs(fields) do redis.call("HSET", key, name, value) end
  redis.call("HSET", key, "status", "running", "total", 0, "pending", 0, "completed", 0, "failed", 0,
    "cancelled", 0, "holds", 0, "run", 1, "created_ms", now)
  redis.call("ZADD", prefix .. ":batches", now, bid)
elseif not status then
  return { "not_found", "" }
elseif status ~= "running" then
  if redis.call("HGET", key, "finished_ms") == false then release() end
  flush_counts()
  return { "closed", status }
end
if ARGV[6] == "1" then redis.call("HINCRBY", key, "holds", 1) end
local created = {}
local added = 0
local seen = {}
for i, job in ipairs(cjson.decode(ARGV[4])) do
  created[i] = batch_insert(prefix, now, job, seen)
  if created[i] == 1 then
    redis.call("HSET", key .. ":jobs", job[1], "pending")
    added = added + 1
  end
end
batch_inserted(prefix, seen)
redis.call("HINCRBY", key, "total", added)
redis.call("HINCRBY", key, "pending", added)
if ARGV[5] ~= "" and added == 0 and ARGV[6] ~= "1" then batch_settle(prefix, now, ARGV[8], bid, false) end
release()
flush_counts()
return { "ok", created }
