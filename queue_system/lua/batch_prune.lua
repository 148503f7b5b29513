--[[
batch_prune: delete finished batches (completed, failed, or cancelled with nothing left running) that finished
before a cutoff, at most a budget per call (Laravel's queue:prune-batches). Only the batch's own keys go; its
jobs' records follow their queues' retention. A batch re-opened by a retry is no longer finished and stays.

ARGV[1] key prefix   ARGV[2] cutoff ms (finished at or before)   ARGV[3] budget
Returns the number of batches deleted (less than the budget: nothing more to prune).
]]
local prefix, cutoff, budget = ARGV[1], ARGV[2], ARGV[3]
local finished = prefix .. ":batches:finished"
local ids = redis.call("ZRANGEBYSCORE", finished, "-inf", cutoff, "LIMIT", 0, budget)
for _, bid in ipairs(ids) do
  local key = prefix .. ":batch:" .. bid
  redis.call("DEL", key, key .. ":jobs")
  redis.call("ZREM", prefix .. ":batches", bid)
  redis.call("ZREM", finished, bid)
end
return #ids
