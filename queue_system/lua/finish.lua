--[[
finish: record the outcomes of attempts, each only if the attempt still holds the job's lease (fencing).

A worker that lost a lease (it expired while the worker was stalled, or another worker took the job over) must
not complete, fail or retry that job any more: its late outcome is refused and the newer attempt's state is left
untouched. Outcomes arrive as one JSON array so a worker finishing many jobs at once sends one command.

ARGV[1] key prefix
ARGV[2] JSON array: [job id, token, outcome, result ("" = keep none), result ttl ms ("0" = forever),
                     retry due ms, queue name, queue key]
Outcomes:
  done     the job finished (succeeded or failed for good): store the result, delete the job.
  retry    another try later: re-score at the due time, release the lease, count one ended attempt.
  requeue  give the job back untried (graceful shutdown): release the lease and uncount the try.
Returns one 1 (recorded) or 0 (lease not ours: outcome discarded) per entry.
]]
local prefix = ARGV[1]
local answers = {}
for i, e in ipairs(cjson.decode(ARGV[2])) do
  local id, token, outcome, result, ttl, due, queue, qkey = e[1], e[2], e[3], e[4], e[5], e[6], e[7], e[8]
  local lease = "arq:in-progress:" .. id
  if redis.call("GET", lease) ~= token then
    answers[i] = 0
  else
    redis.call("DEL", lease)
    local wake = prefix .. ":wake:" .. queue
    if outcome == "done" then
      if result ~= "" then
        if ttl == "0" then
          redis.call("SET", "arq:result:" .. id, result)
        else
          redis.call("SET", "arq:result:" .. id, result, "PX", ttl)
        end
      end
      redis.call("DEL", "arq:job:" .. id, "arq:retry:" .. id, prefix .. ":meta:" .. id)
      redis.call("ZREM", qkey, id)
      redis.call("ZREM", "arq:abort", id)
    elseif outcome == "retry" then
      redis.call("ZADD", qkey, due, id)
      redis.call("HINCRBY", prefix .. ":meta:" .. id, "ended", 1)
      redis.call("LPUSH", wake, "1")
      redis.call("LTRIM", wake, 0, 0)
    else
      redis.call("DECR", "arq:retry:" .. id)
      redis.call("LPUSH", wake, "1")
      redis.call("LTRIM", wake, 0, 0)
    end
    answers[i] = 1
  end
end
return answers
