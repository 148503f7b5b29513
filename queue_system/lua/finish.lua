--[[
finish: record the outcomes of attempts, each only if the attempt still holds the job's lease (fencing).

A worker that lost a lease (it expired while the worker was stalled, or another worker took the job over) must
not complete, fail or retry that job any more: its late outcome is refused and the newer attempt's state is left
untouched. A job whose lease the caller holds is active (claim.lua made it so, and nothing else moves an active
job), so its record is not read: the worker passes its tags and function. Outcomes arrive as one JSON array so a worker finishing many jobs at once sends one command. Each
accepted outcome moves the job's state (include/state.lua) and emits its event; then each queue touched is
trimmed to its retention policy for that outcome (include/retain.lua, at most 1000 records per call; the
worker's periodic sweep catches up on the rest).

ARGV[1] key prefix   ARGV[2] now ms   ARGV[3] events maxlen
ARGV[4] JSON array: [job id, token, outcome, result ("" = keep none), result ttl ms ("0" = forever),
                     retry due score, queue name, queue key, error ("" = none), keep count (-1 = any number),
                     keep age ms (-1 = forever), the attempt's try number, the job's tags (JSON, "" = none),
                     function name]
Outcomes:
  completed / failed   the job ended (succeeded / failed for good): store the result, delete the job.
  aborted              the job was cancelled by an abort request: as failed, but recorded as aborted.
  retry                another try later: re-score at the due time, release the lease, count one ended attempt
                       (a wake-up token lets an idle worker learn the due time).
  requeue              give the job back untried (graceful shutdown): release the lease and uncount the try.
  postpone             the job did not start (a limit was full) or asked to slow down (errors.SlowDown): as
                       requeue, but re-scored at its due time, recorded as delayed and counted in
                       {prefix}:postponed (include/limits.lua).
Every accepted outcome gives back the job's concurrency-cap slots, if limits are configured.
Returns one 1 (recorded) or 0 (lease not ours: outcome discarded) per entry.
]]
--!include state
--!include retain
--!include limits
local prefix, now, maxlen = ARGV[1], ARGV[2], ARGV[3]
local limited = load_limits(prefix)
local answers = {}
local policies = {}
local arq_aborts = nil  -- whether arq's own abort set exists (a plain-arq client's Job.abort); asked once
for i, e in ipairs(cjson.decode(ARGV[4])) do
  local id, token, outcome, result, ttl, due, queue, qkey, err = e[1], e[2], e[3], e[4], e[5], e[6], e[7], e[8], e[9]
  local lease = "arq:in-progress:" .. id
  if redis.call("GET", lease) ~= token then
    answers[i] = 0
  else
    local wake = prefix .. ":wake:" .. queue
    local meta = prefix .. ":meta:" .. id
    -- the function keys its indexes and counters; an outcome that does not name it (a job given back untried,
    -- which was never decoded) takes it from the record
    local fn = e[14]
    if not fn or fn == "" then fn = redis.call("HGET", meta, "f") or "" end
    if limited then release_caps(prefix, id, queue) end
    if outcome == "retry" then
      redis.call("DEL", lease)
      redis.call("ZADD", qkey, due, id)
      redis.call("HINCRBY", meta, "ended", 1)
      redis.call("HSET", meta, "s", "retrying", "err", err)
      move(prefix, id, queue, e[13], "active", "retrying", now, fn, due)
      emit(prefix, maxlen, "retrying", id, queue, fn, e[13], "try", e[12], "error", err,
        "due", string.format("%d", math.floor(tonumber(due))))
      redis.call("LPUSH", wake, "1")  -- an idle worker's claim learns the new due time and sets its timer
      redis.call("LTRIM", wake, 0, 0)
      redis.call("LPUSH", wake, "1")
      redis.call("LTRIM", wake, 0, 0)
    elseif outcome == "postpone" then
      redis.call("DEL", lease)
      redis.call("DECR", "arq:retry:" .. id)
      postpone_job(prefix, id, qkey, queue, "active", e[13], fn, due, now)
      redis.call("LPUSH", wake, "1")
      redis.call("LTRIM", wake, 0, 0)
    elseif outcome == "requeue" then
      redis.call("DEL", lease)
      redis.call("DECR", "arq:retry:" .. id)
      redis.call("HSET", meta, "s", "waiting")
      move(prefix, id, queue, e[13], "active", "waiting", now, fn)
      redis.call("LPUSH", wake, "1")
      redis.call("LTRIM", wake, 0, 0)
    else
      if result ~= "" then
        if ttl == "0" then
          redis.call("SET", "arq:result:" .. id, result)
        else
          redis.call("SET", "arq:result:" .. id, result, "PX", ttl)
        end
      end
      end_job(prefix, now, maxlen, id, queue, outcome, err, { "active", e[13], fn, e[12] })
      redis.call("DEL", lease, "arq:job:" .. id, "arq:retry:" .. id)
      redis.call("ZREM", qkey, id)
      if arq_aborts == nil then arq_aborts = redis.call("EXISTS", "arq:abort") == 1 end
      if arq_aborts then redis.call("ZREM", "arq:abort", id) end
      policies[queue .. " " .. outcome] = { queue, outcome, tonumber(e[10]), tonumber(e[11]) }
    end
    answers[i] = 1
  end
end
for _, p in pairs(policies) do
  trim(prefix, p[1], p[2], p[3], p[4], tonumber(now), 1000)
end
flush_counts()
return answers
