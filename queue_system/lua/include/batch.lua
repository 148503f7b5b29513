-- batch: a batch's bookkeeping, done in the same atomic step that records a member job's outcome.
--
-- Included by state.lua just before end_job(), which calls batch_job_ended() for every job that ends (completed,
-- failed or aborted) under either worker (finish.lua, transition.lua, abort.lua, batch_cancel.lua), so a batch is
-- counted wherever a job's outcome is recorded. A member job carries the tag batch=<batch id>; the batch is
--   {prefix}:batch:{id}        hash: name, status (running | completed | failed | cancelled), total, pending,
--                              completed, failed, cancelled, holds (writers adding jobs in several calls,
--                              which keep it from finishing), allow_failures, run, created_ms, finished_ms,
--                              cancelled_ms, tags (JSON), then / catch / finally (the callback jobs, as
--                              enqueue.lua entries), then_fired, catch_fired
--   {prefix}:batch:{id}:jobs   hash: job id -> pending | completed | failed | cancelled
--   {prefix}:batches           sorted set: batch ids by creation time (ms)
--   {prefix}:batches:finished  sorted set: finished batch ids by finish time (ms), for pruning
-- Counting is idempotent per job: an outcome counts only while the job's entry says pending, so a job recorded
-- twice (a stale worker under arq's own Worker) changes nothing the second time. Callbacks are enqueued here,
-- in the same step, under fixed ids ({batch}:then, {batch}:catch, {batch}:finally:{run}); an id that exists
-- is never enqueued again, so each callback is enqueued exactly once. A failed-store retry of a member
-- (enqueue.lua, force) calls batch_reopen(): the job counts as pending again and a finished batch runs again
-- (run + 1), so its finally callback fires once more when it finishes again. A batch that finishes emits a
-- "batch_finished" event (fields batch, status, run; no job).

local BATCH_TAG = '"batch":'

local batch_ids = {}  -- tags JSON -> batch id (false: none); the jobs of one batch share their tags
local function batch_of(tags)
  if not tags or not string.find(tags, BATCH_TAG, 1, true) then return nil end
  local bid = batch_ids[tags]
  if bid == nil then
    local ok, decoded = pcall(cjson.decode, tags)
    bid = ok and type(decoded) == "table" and decoded.batch and tostring(decoded.batch) or false
    batch_ids[tags] = bid
  end
  return bid or nil
end

-- batch_insert: write one new job as enqueue.lua does for an id not taken (same record, counters, score and
-- wake-up); returns 1, or 0 when the id is taken. entry: enqueue.lua's job array. seen: a table kept across the
-- jobs of one call (per-queue sequence numbers and wake-ups, written once by batch_inserted()).
local function batch_insert(prefix, now, entry, seen)
  local id, payload, ttl, due, priority, queue, qkey, fn, tags =
    entry[1], entry[2], entry[3], tonumber(entry[4]), entry[5], entry[6], entry[7], entry[8], entry[9]
  if redis.call("EXISTS", "arq:job:" .. id, "arq:result:" .. id) > 0 then return 0 end
  local meta = prefix .. ":meta:" .. id
  local old = redis.call("HMGET", meta, "s", "q", "tg", "f")
  if old[1] then
    move(prefix, id, old[2] or queue, old[3], old[1], false, now, old[4])
    redis.call("DEL", meta, prefix .. ":logs:" .. id)
  end
  local score, state = queued_score(prefix, queue, priority, due, now, seen)
  if seen[queue] == nil then seen[queue] = false end  -- woken, no sequence number taken
  redis.call("SET", "arq:job:" .. id, payload, "PX", ttl)
  redis.call("ZADD", qkey, score, id)
  redis.call("HSET", meta, "q", queue, "p", priority, "f", fn, "s", state, "et", now, "tg", tags)
  move(prefix, id, queue, tags, false, state, now, fn, score)
  return 1
end

local function batch_inserted(prefix, seen)
  for queue, seq in pairs(seen) do
    if seq then redis.call("SET", prefix .. ":seq:" .. queue, seq) end
    redis.call("SADD", prefix .. ":queues", queue)
    redis.call("LPUSH", prefix .. ":wake:" .. queue, "1")
    redis.call("LTRIM", prefix .. ":wake:" .. queue, 0, 0)
  end
end

local function batch_fire(prefix, now, key, which, id)
  local raw = redis.call("HGET", key, which)
  if not raw or raw == "" then return end
  local entry = cjson.decode(raw)
  entry[1], entry[4] = id, tostring(now)
  local seen = {}
  batch_insert(prefix, tonumber(now), entry, seen)
  batch_inserted(prefix, seen)
end

-- batch_settle: after a member's outcome was counted, fire what is due: catch on the first failure (unless
-- failures are allowed or the batch was cancelled), and once nothing is pending and no writer holds the batch
-- open (a create or add in several calls: lua/batch_add.lua), then (every job succeeded, or ended
-- completed/failed with failures allowed) and finally (always, once per run).
local function batch_settle(prefix, now, maxlen, bid, failed_now)
  local key = prefix .. ":batch:" .. bid
  local b = redis.call("HMGET", key, "status", "pending", "total", "completed", "failed", "allow_failures",
    "catch_fired", "then_fired", "run", "holds")
  local status, allowed = b[1], b[6] == "1"
  if failed_now and status ~= "cancelled" and not allowed and b[7] ~= "1" then
    redis.call("HSET", key, "catch_fired", "1")
    batch_fire(prefix, now, key, "catch", bid .. ":catch")
  end
  if tonumber(b[2]) > 0 or tonumber(b[10] or "0") > 0 then return end
  local total, completed = tonumber(b[3]), tonumber(b[4])
  local success = completed == total or (allowed and completed + tonumber(b[5]) == total)
  if status ~= "cancelled" then
    status = success and "completed" or "failed"
    if success and b[8] ~= "1" then
      redis.call("HSET", key, "then_fired", "1")
      batch_fire(prefix, now, key, "then", bid .. ":then")
    end
  end
  redis.call("HSET", key, "status", status, "finished_ms", now)
  redis.call("ZADD", prefix .. ":batches:finished", now, bid)
  emit(prefix, maxlen, "batch_finished", "", "", "", "{}", "batch", bid, "status", status, "run", b[9] or "1")
  batch_fire(prefix, now, key, "finally", bid .. ":finally:" .. (b[9] or "1"))
end

local function batch_job_ended(prefix, now, maxlen, id, tags, state)
  local bid = batch_of(tags)
  if not bid then return end
  local key = prefix .. ":batch:" .. bid
  if redis.call("HGET", key .. ":jobs", id) ~= "pending" then return end
  local outcome = (state == "completed" or state == "failed") and state or "cancelled"
  redis.call("HSET", key .. ":jobs", id, outcome)
  local pending = redis.call("HINCRBY", key, "pending", -1)
  redis.call("HINCRBY", key, outcome, 1)
  if pending == 0 or outcome == "failed" then batch_settle(prefix, now, maxlen, bid, outcome == "failed") end
end

local function batch_reopen(prefix, id, tags)
  local bid = batch_of(tags)
  if not bid then return end
  local key = prefix .. ":batch:" .. bid
  local was = redis.call("HGET", key .. ":jobs", id)
  if was ~= "failed" and was ~= "cancelled" then return end
  redis.call("HSET", key .. ":jobs", id, "pending")
  redis.call("HINCRBY", key, was, -1)
  redis.call("HINCRBY", key, "pending", 1)
  if redis.call("HEXISTS", key, "finished_ms") == 1 then
    redis.call("HDEL", key, "finished_ms")
    redis.call("HINCRBY", key, "run", 1)
    redis.call("ZREM", prefix .. ":batches:finished", bid)
    if redis.call("HGET", key, "status") ~= "cancelled" then redis.call("HSET", key, "status", "running") end
  end
end
