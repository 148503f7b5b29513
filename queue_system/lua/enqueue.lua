--[[
enqueue: create jobs unless their ids are taken, many per call (one job for a single enqueue).

Jobs arrive in two forms (queue_system/enqueue_wire.py): a JSON array of general entries, which can say anything,
and a run of plain jobs sent compactly (below), which is what keeps a bulk enqueue cheap on both sides. Each job is
checked and written atomically: an id is taken while its payload (arq:job:{id}) or its result (arq:result:{id})
exists, arq's own rule, so 100 concurrent enqueues of one id create one job.

Score: a ready job gets   priority * 1e11 + seq   (seq = per-queue counter), so among ready jobs a higher
priority always sorts first and FIFO holds within a level, while every ready score stays far below "now" in ms
(arq only starts members whose score <= now). A deferred job gets its due time in ms plus (priority + 1) / 10 --
the fraction carries its priority -- and the promote step re-scores it into its priority band once it is due.
Each job gets its record ({prefix}:meta:{id}: queue, priority, function, state, enqueue time, tags if any) in
state waiting or delayed, counted by include/state.lua. A record left by an earlier job with the same id (a
failed job retried from the failed store, or an id whose result is gone) is counted out first. Each queue that
got a job gets one wake-up token (its list holds at most one) so an idle worker starts at once, or recomputes
its wait for a deferred job. Each created job is counted in {prefix}:stats:{queue} (field enqueued:{function}).

ARGV[1] now ms   ARGV[2] key prefix ("qs")
ARGV[3] JSON array of jobs in the general form: [id, payload, ttl ms, due ms, priority, queue name, queue key,
        function, tags json, force, unique mode, unique lock key, lock ttl ms, limit key]
        (all strings; force "1" replaces an existing result, for failed-store retries, and re-opens the job's batch:
        include/batch.lua; force "n": the client drew the id at random just now, so nothing of it can exist and it
        is not looked up; the last four are optional: unique mode "" = none, else active | ttl | debounce
        (include/unique.lua); limit key = the job's keyed rate limit key, kept in its record (field "rk") for
        claim.lua)
ARGV[4..] optional, a run of plain jobs after those (new ids, ready now, no unique key or limit key: what a bulk
        enqueue mostly is), sent compactly because per-job JSON is most of a bulk call's cost on both sides:
        ARGV[4] JSON [ttl ms, priority, queue name, queue key, function, tags json] shared by the run,
        ARGV[5] the run's ids, 32 hex digits each, concatenated,   ARGV[6..] one payload per job, as is
Returns per general entry, in order: 1 (created), 0 (id taken), "d:<id>" (the unique key's owner, nothing
written) or "r:<id>" (the owner, a debounced job not started yet, took this payload and due time); then, for a run
of plain jobs, one number: how many were created (all of them: their ids are new).
]]
--!include state
--!include unique
local now, prefix = tonumber(ARGV[1]), ARGV[2]
local created = {}
local woken = {}
local seqs = {}  -- queue -> last sequence number handed out in this call (written back once at the end)
zadd_buffer = {}  -- queue and index members of general entries with drawn ids, once per key (include/state.lua)

-- write_job: a new job's payload and record; returns the record's key.
local function write_job(id, payload, ttl, priority, queue, fn, tags, state)
  redis.call("SET", "arq:job:" .. id, payload, "PX", ttl)
  local meta = prefix .. ":meta:" .. id
  if tags ~= "{}" then
    redis.call("HSET", meta, "q", queue, "p", priority, "f", fn, "s", state, "et", ARGV[1], "tg", tags)
  else
    redis.call("HSET", meta, "q", queue, "p", priority, "f", fn, "s", state, "et", ARGV[1])
  end
  return meta
end

-- created_in: n new jobs of a function in a queue: metrics.py's enqueued total, and the queue's wake-up token.
local function created_in(queue, fn, n)
  bump(prefix .. ":stats:" .. queue, "enqueued:" .. fn, n)
  if not woken[queue] then
    woken[queue] = true
    redis.call("SADD", prefix .. ":queues", queue)
    redis.call("LPUSH", prefix .. ":wake:" .. queue, "1")
    redis.call("LTRIM", prefix .. ":wake:" .. queue, 0, 0)
  end
end

-- create: one job (the fields as in the header; umode, lock, lock_ttl and limit_key may be nil); its answer.
local function create(id, payload, ttl, due, priority, queue, qkey, fn, tags, force, umode, lock, lock_ttl, limit_key)
  local unique = umode and umode ~= ""
  if force ~= "n" or unique then flush_zadds() end  -- it may read what is buffered
  local owner, verdict = nil, nil
  if unique then owner, verdict = unique_owner(prefix, id, umode, lock) end
  if verdict == "d" then return "d:" .. owner end
  if verdict == "r" then
    debounce_replace(prefix, owner, payload, ttl, due, priority, queue, qkey, ARGV[1])
    return "r:" .. owner
  end
  if force ~= "n" then
    local job_key, result_key, meta = "arq:job:" .. id, "arq:result:" .. id, prefix .. ":meta:" .. id
    if force == "1" then redis.call("DEL", result_key) end
    -- one lookup in the common case (a new id); a second only when something of that id exists
    if redis.call("EXISTS", job_key, result_key, meta) > 0 then
      if force ~= "1" and redis.call("EXISTS", job_key, result_key) > 0 then return 0 end
      local old = redis.call("HMGET", meta, "s", "q", "tg", "f")
      if old[1] then
        local old_queue = old[2] or queue
        if (old[1] == "waiting" or old[1] == "delayed" or old[1] == "retrying") and old_queue ~= queue then
          redis.call("ZREM", queue_key_of(old_queue), id)
        end
        move(prefix, id, old_queue, old[3], old[1], false, now, old[4])
        redis.call("DEL", meta, prefix .. ":logs:" .. id)
      end
    end
  end
  local score, state = queued_score(prefix, queue, priority, due, now, seqs)
  local meta = write_job(id, payload, ttl, priority, queue, fn, tags, state)
  zadd(qkey, score, id)
  if limit_key and limit_key ~= "" then redis.call("HSET", meta, "rk", limit_key) end
  if unique then redis.call("SET", lock, id, "PX", lock_ttl) end
  move(prefix, id, queue, tags, false, state, now, fn, score)
  if force == "1" then batch_reopen(prefix, id, tags) end  -- a failed-store retry re-opens its batch
  created_in(queue, fn, 1)
  return 1
end

-- create_run: the run of plain jobs (ARGV[4..]): each written as create() writes a new id that is ready now,
-- with what is the same for the whole run (counters, index keys, the wake-up) done once, and the queue and
-- index members added in one ZADD per key. This loop is most of a bulk enqueue's cost in Redis, so it does only
-- what each job needs: its payload, its record, its score. The score goes to the ZADDs as a string formatted
-- once: a Lua number becomes an argument through "%.14g", which cost about 3,400 instructions per number and
-- sorted set (callgrind), more than the ZADD itself.
local function create_run(run, ids, first)
  local ttl, priority, queue, qkey, fn, tags = run[1], run[2], run[3], run[4], run[5], run[6]
  local members, m = {}, 0
  local band, seq = tonumber(priority), last_seq(prefix, queue, seqs)
  local sub, format = string.sub, string.format
  for k = first, #ARGV do
    local at = (k - first) * 32
    local id = sub(ids, at + 1, at + 32)
    write_job(id, ARGV[k], ttl, priority, queue, fn, tags, "waiting")
    seq = seq + 1
    members[m + 1] = format("%d", ready_score(band, seq))
    members[m + 2] = id
    m = m + 2
  end
  seqs[queue] = seq
  local n = #ARGV - first + 1
  zadd_pairs(qkey, members)
  for _, key in ipairs(index_keys(prefix, queue, "waiting", fn, tags)) do zadd_pairs(key, members) end
  count(prefix, queue, tags, "waiting", n, fn)
  created_in(queue, fn, n)
  created[#created + 1] = n
end

for _, job in ipairs(cjson.decode(ARGV[3])) do
  created[#created + 1] = create(job[1], job[2], job[3], tonumber(job[4]), job[5], job[6], job[7], job[8], job[9],
    job[10], job[11], job[12], job[13], job[14])
end
flush_zadds()
if ARGV[4] then create_run(cjson.decode(ARGV[4]), ARGV[5], 6) end
for queue, seq in pairs(seqs) do
  redis.call("SET", prefix .. ":seq:" .. queue, seq)
end
flush_counts()
return created
