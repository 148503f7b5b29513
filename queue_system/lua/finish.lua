--[[
finish: record the outcome of one attempt, only if the attempt still holds the job's lease (fencing).

A worker that lost its lease (it expired while the worker was stalled, or another worker took the job over)
must not complete, fail or retry the job any more: its late outcome is refused and the newer attempt's state is
left untouched.

KEYS[1] lease (arq:in-progress:id)  KEYS[2] job payload  KEYS[3] try counter (arq:retry:id)  KEYS[4] result
KEYS[5] queue zset  KEYS[6] meta hash  KEYS[7] wake list  KEYS[8] abort zset (arq:abort)
ARGV[1] token   ARGV[2] outcome: "done" | "retry" | "requeue"   ARGV[3] job id
ARGV[4] result bytes ("" = keep none)   ARGV[5] result ttl ms (0 = forever)   ARGV[6] retry due ms
Outcomes:
  done     the job finished (succeeded or failed for good): store the result, delete the job.
  retry    another try later: re-score at the due time, release the lease, count one ended attempt.
  requeue  give the job back untried (graceful shutdown): release the lease and uncount the try.
Returns 1, or 0 when the lease is not ours (the outcome was discarded).
]]
if redis.call("GET", KEYS[1]) ~= ARGV[1] then
  return 0
end
local outcome = ARGV[2]
redis.call("DEL", KEYS[1])
if outcome == "done" then
  if ARGV[4] ~= "" then
    if ARGV[5] == "0" then
      redis.call("SET", KEYS[4], ARGV[4])
    else
      redis.call("SET", KEYS[4], ARGV[4], "PX", ARGV[5])
    end
  end
  redis.call("DEL", KEYS[2], KEYS[3], KEYS[6])
  redis.call("ZREM", KEYS[5], ARGV[3])
  redis.call("ZREM", KEYS[8], ARGV[3])
elseif outcome == "retry" then
  redis.call("ZADD", KEYS[5], ARGV[6], ARGV[3])
  redis.call("HINCRBY", KEYS[6], "ended", 1)
  redis.call("LPUSH", KEYS[7], "1")
  redis.call("LTRIM", KEYS[7], 0, 0)
else
  redis.call("DECR", KEYS[3])
  redis.call("LPUSH", KEYS[7], "1")
  redis.call("LTRIM", KEYS[7], 0, 0)
end
return 1
