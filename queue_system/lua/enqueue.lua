--[[
enqueue: create jobs unless their ids are taken, many per call (one job for a single enqueue).

Jobs arrive as one JSON array, so the client packs one argument instead of ten per job (redis-py encodes every
argument in Python; this is what makes bulk enqueue fast). Each job is checked and written atomically: an id is
taken while its payload (arq:job:{id}) or its result (arq:result:{id}) exists, arq's own rule, so 100 concurrent
enqueues of one id create one job.

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
ARGV[3] JSON array of jobs: [id, payload, ttl ms, due ms, priority, queue name, queue key, function, tags json, force,
        unique mode, unique lock key, lock ttl ms, limit key]
        (all strings; force "1" replaces an existing result, for failed-store retries, and re-opens the job's batch:
        include/batch.lua; force "n": the client drew the id at random just now, so nothing of it can exist and it
        is not looked up; the last four are optional: unique mode "" = none, else active | ttl | debounce
        (include/unique.lua); limit key = the job's keyed rate limit key, kept in its record (field "rk") for
        claim.lua)
Returns per job: 1 (created), 0 (id taken), "d:<id>" (the unique key's owner, nothing written) or "r:<id>" (the
owner, a debounced job not started yet, took this payload and due time).
]]
--!include state
--!include unique
local now, prefix = tonumber(ARGV[1]), ARGV[2]
local jobs = cjson.decode(ARGV[3])
local created = {}
local woken = {}
local seqs = {}  -- queue -> last sequence number handed out in this call (written back once at the end)
zadd_buffer = {}  -- queue and index members of new plain jobs, written once per key (include/state.lua)
for i, job in ipairs(jobs) do
  local id, payload, ttl, due, priority, queue, qkey, fn, tags, force =
    job[1], job[2], job[3], tonumber(job[4]), job[5], job[6], job[7], job[8], job[9], job[10]
  local job_key, result_key, meta = "arq:job:" .. id, "arq:result:" .. id, prefix .. ":meta:" .. id
  local umode, lock = job[11], job[12]
  if force ~= "n" or (umode and umode ~= "") then flush_zadds() end  -- it may read what is buffered
  local owner, verdict = nil, nil
  if umode and umode ~= "" then owner, verdict = unique_owner(prefix, id, umode, lock) end
  if verdict == "d" then
    created[i] = "d:" .. owner
  elseif verdict == "r" then
    debounce_replace(prefix, owner, payload, ttl, due, priority, queue, qkey, ARGV[1])
    created[i] = "r:" .. owner
  else
    if force == "1" then
      redis.call("DEL", result_key)
    end
    -- one lookup in the common case (a new id); a second only when something of that id exists
    local found = force ~= "n" and redis.call("EXISTS", job_key, result_key, meta) > 0
    if found and force ~= "1" and redis.call("EXISTS", job_key, result_key) > 0 then
      created[i] = 0
    else
      local old = found and redis.call("HMGET", meta, "s", "q", "tg", "f") or {}
      if old[1] then
        local old_queue = old[2] or queue
        if (old[1] == "waiting" or old[1] == "delayed" or old[1] == "retrying") and old_queue ~= queue then
          redis.call("ZREM", queue_key_of(old_queue), id)
        end
        move(prefix, id, old_queue, old[3], old[1], false, now, old[4])
        redis.call("DEL", meta, prefix .. ":logs:" .. id)
      end
      local score, state
      if due > now then
        score, state = due + (tonumber(priority) + 1) / 10, "delayed"
      else
        seqs[queue] = (seqs[queue] or tonumber(redis.call("GET", prefix .. ":seq:" .. queue) or "0")) + 1
        score, state = tonumber(priority) * 1e11 + (seqs[queue] % 1e11), "waiting"
      end
      redis.call("SET", job_key, payload, "PX", ttl)
      zadd(qkey, score, id)
      if tags ~= "{}" then
        redis.call("HSET", meta, "q", queue, "p", priority, "f", fn, "s", state, "et", ARGV[1], "tg", tags)
      else
        redis.call("HSET", meta, "q", queue, "p", priority, "f", fn, "s", state, "et", ARGV[1])
      end
      if job[14] and job[14] ~= "" then redis.call("HSET", meta, "rk", job[14]) end
      if umode and umode ~= "" then redis.call("SET", lock, id, "PX", job[13]) end
      move(prefix, id, queue, tags, false, state, now, fn, score)
      if force == "1" then batch_reopen(prefix, id, tags) end  -- a failed-store retry re-opens its batch
      bump(prefix .. ":stats:" .. queue, "enqueued:" .. fn, 1)  -- metrics.py's enqueued total (by function)
      if not woken[queue] then
        woken[queue] = true
        redis.call("SADD", prefix .. ":queues", queue)
        redis.call("LPUSH", prefix .. ":wake:" .. queue, "1")
        redis.call("LTRIM", prefix .. ":wake:" .. queue, 0, 0)
      end
      created[i] = 1
    end
  end
end
for queue, seq in pairs(seqs) do
  redis.call("SET", prefix .. ":seq:" .. queue, seq)
end
flush_zadds()
flush_counts()
return created
