-- state: job-state bookkeeping, shared by every script that moves a job (included, so there is one copy).
--
-- A job's state lives in its record, the hash {prefix}:meta:{id} (field "s"). A script that moves a job reads
-- the state it leaves and calls move(); in the same atomic step move() keeps
--   counters  {prefix}:counts:{queue}, {prefix}:counts:{queue}:tag:{k}={v} and {prefix}:counts:{queue}:fn:{f}:
--             one field per state, plus total_completed / total_failed / total_aborted (outcomes ever
--             recorded, never decremented); a tag's hash also counts its jobs per function and state (fields
--             "fn:{f}:{state}"), the exact total of a listing filtered by both (one more HINCRBY per tag);
--   indexes   {prefix}:jobs:{queue}:{state} for completed, failed, aborted (scored by finish time, ms), delayed
--             and retrying (scored as in the queue: due time); and the filter indexes
--             {prefix}:jobs:{queue}:{state}:fn:{f} and {prefix}:jobs:{queue}:{state}:tag:{k}={v} for every
--             state but active (waiting ones scored as in the queue, so they page in run order).
-- Invariant: a job is in index (queue, state[, function | tag]) exactly when its record says that queue and
-- state (and function, tag), and each counter field is the number of records in that state. Waiting jobs need
-- no unfiltered index: the queue's ready band is one (less the running jobs). Active jobs have no index at all:
-- claiming is the hot path and they are few (the workers' slots); they are the queue's leased members, found by
-- list.lua. So a job's trip enqueue -> claim -> finish costs, per function and per tag, one ZADD at enqueue,
-- one ZREM at claim and one ZADD at finish (bench/hot_path_cost.py measures it). Retention, clean and remove
-- take a record out of the same index_keys() with its counters (include/retain.lua), so the indexes never
-- outgrow the records. Counter changes are summed in memory and written once per key by
-- flush_counts() at the end of the script (a bulk call pays one HINCRBY per counter, not per job).
-- A tag's counter hash whose jobs are all gone expires after TAG_COUNTS_KEEP_MS (its totals stay readable until
-- then, and a new job with that tag makes it permanent again), so one-off tag values (batch ids) cost nothing
-- forever. A function's counters stay, like the queue's: functions are few, and checking for expiry would cost
-- two more commands per move. end_job() records an outcome, and counts completed and failed ones per minute in
-- {prefix}:throughput:{minute} (field "{queue}:{state}"; kept THROUGHPUT_KEEP_MS), so the dashboard's sparklines
-- read 60 small hashes instead of an hour of events; emit() appends to the event stream (MAXLEN ~ maxlen; 0 =
-- no events).
local INDEXED = { completed = true, failed = true, aborted = true, delayed = true, retrying = true }
local FILTERED = { waiting = true, delayed = true, retrying = true, completed = true, failed = true, aborted = true }
local FINISHED = { completed = true, failed = true, aborted = true }
local STATES = { "waiting", "delayed", "active", "retrying", "completed", "failed", "aborted" }
local TAG_COUNTS_KEEP_MS = 7 * 86400 * 1000
local THROUGHPUT_KEEP_MS = 25 * 3600 * 1000  -- the API serves up to 24 h of minutes
local throughput_keys = {}
local pending_counts = {}
local tag_count_keys = {}
local parsed_tags = {}

local function queue_key_of(name)
  if name == "default" then return "arq:queue" end
  return "arq:queue:" .. name
end

local function tag_list(tags)
  if not tags or tags == "" or tags == "{}" then return nil end
  local list = parsed_tags[tags]
  if list == nil then
    list = {}
    local ok, decoded = pcall(cjson.decode, tags)
    if ok and type(decoded) == "table" then
      for k, v in pairs(decoded) do list[#list + 1] = tostring(k) .. "=" .. tostring(v) end
    end
    parsed_tags[tags] = list
  end
  return list
end

local function bump(key, field, n)
  local fields = pending_counts[key]
  if not fields then
    fields = {}
    pending_counts[key] = fields
  end
  fields[field] = (fields[field] or 0) + n
end

-- slot(t, k): t[k], a table made on first use. The key strings below are built once per script call and kept
-- in nested tables (queue -> state / function -> tags), so a bulk call moving many alike jobs concatenates nothing.
local function slot(t, k)
  local s = t[k]
  if not s then
    s = {}
    t[k] = s
  end
  return s
end

local TOTALS = { total_completed = true, total_failed = true, total_aborted = true }
local counter_keys = {}
local function counters_of(prefix, queue, fn, tags)
  local by_tags = slot(slot(counter_keys, queue), fn or "")
  local found = by_tags[tags or ""]
  if found then return found end
  found = { queue = prefix .. ":counts:" .. queue, tags = {}, fields = {} }
  if fn and fn ~= "" then found.fn = found.queue .. ":fn:" .. fn end
  for _, kv in ipairs(tag_list(tags) or {}) do found.tags[#found.tags + 1] = found.queue .. ":tag:" .. kv end
  by_tags[tags or ""] = found
  return found
end

local function count(prefix, queue, tags, field, n, fn)
  local keys = counters_of(prefix, queue, fn, tags)
  bump(keys.queue, field, n)
  if keys.fn then bump(keys.fn, field, n) end
  if #keys.tags == 0 then return end
  local fn_field = false  -- a tag's count of its jobs of this function in this state
  if keys.fn and not TOTALS[field] then
    fn_field = keys.fields[field]
    if not fn_field then
      fn_field = "fn:" .. fn .. ":" .. field
      keys.fields[field] = fn_field
    end
  end
  for _, key in ipairs(keys.tags) do
    tag_count_keys[key] = true
    bump(key, field, n)
    if fn_field then bump(key, fn_field, n) end
  end
end

-- index_keys(prefix, queue, state, fn, tags): every index a job in that state, with that function and those tags,
-- belongs to (none for active). The caller must not change the list.
local index_key_lists = {}
local function index_keys(prefix, queue, state, fn, tags)
  local by_tags = slot(slot(slot(index_key_lists, queue), state), fn or "")
  local keys = by_tags[tags or ""]
  if keys then return keys end
  keys = {}
  by_tags[tags or ""] = keys
  local base = prefix .. ":jobs:" .. queue .. ":" .. state
  if INDEXED[state] then keys[1] = base end
  if not FILTERED[state] then return keys end
  if fn and fn ~= "" then keys[#keys + 1] = base .. ":fn:" .. fn end
  for _, kv in ipairs(tag_list(tags) or {}) do keys[#keys + 1] = base .. ":tag:" .. kv end
  return keys
end

-- a queued job's index score is its queue score (the caller wrote it first), so indexes page in queue order
local function index_score(queue, id, state, at_ms, score)
  if FINISHED[state] then return at_ms end
  return score or redis.call("ZSCORE", queue_key_of(queue), id) or at_ms
end

-- queued_score(prefix, queue, priority, due, now, seqs): a new job's queue score and state (enqueue.lua's header
-- explains the score): delayed when due later, else waiting with the queue's next FIFO number. seqs[queue] holds
-- the last number this script handed out (false or nil: none yet); the caller writes it back once at the end.
-- last_seq gives that number (read from Redis if this script has handed out none yet), ready_score the score.
local function last_seq(prefix, queue, seqs)
  return seqs[queue] or tonumber(redis.call("GET", prefix .. ":seq:" .. queue) or "0")
end

local function ready_score(priority, seq)
  return priority * 1e11 + (seq % 1e11)
end

local function queued_score(prefix, queue, priority, due, now, seqs)
  if due > now then return due + (tonumber(priority) + 1) / 10, "delayed" end
  local seq = last_seq(prefix, queue, seqs) + 1
  seqs[queue] = seq
  return ready_score(tonumber(priority), seq), "waiting"
end

-- zadd(key, score, id): ZADD now, or, while a script buffers (zadd_buffer is a table: enqueue.lua, for jobs with
-- ids it drew itself), once per key for the whole call in flush_zadds(): a bulk enqueue then writes its queue and
-- index members with two commands per key instead of two per job. A script that reads a sorted set it may have
-- added to must flush first.
local zadd_buffer = nil
local ZADD_ARGS = 4000  -- scores and members per ZADD (Lua's C stack takes about 8000 values)
local function zadd(key, score, id)
  if not zadd_buffer then
    redis.call("ZADD", key, score, id)
    return
  end
  local pending = slot(zadd_buffer, key)
  pending[#pending + 1] = score
  pending[#pending + 1] = id
end

-- zadd_pairs(key, flat): ZADD a flat list of score, member pairs, in as few commands as Lua's stack allows
local function zadd_pairs(key, flat)
  for i = 1, #flat, ZADD_ARGS do
    redis.call("ZADD", key, unpack(flat, i, math.min(i + ZADD_ARGS - 1, #flat)))
  end
end

local function flush_zadds()
  if not zadd_buffer then return end
  for key, pending in pairs(zadd_buffer) do zadd_pairs(key, pending) end
  zadd_buffer = {}
end

local function index_add(prefix, id, queue, state, fn, tags, at_ms, score)
  local keys = index_keys(prefix, queue, state, fn, tags)
  if #keys == 0 then return end
  local at = index_score(queue, id, state, at_ms, score)
  for _, key in ipairs(keys) do zadd(key, at, id) end
end

local function index_remove(prefix, id, queue, state, fn, tags)
  for _, key in ipairs(index_keys(prefix, queue, state, fn, tags)) do redis.call("ZREM", key, id) end
end

-- move(prefix, id, queue, tags, from, to, at_ms, fn, score): from/to may be false (a job not recorded yet /
-- removed). fn: the function the record says ("" or nil: none). score: a queued job's queue score, if the
-- caller has it at hand (else it is read).
local function move(prefix, id, queue, tags, from, to, at_ms, fn, score)
  if from == to then
    if to then index_add(prefix, id, queue, to, fn, tags, at_ms, score) end
    return
  end
  if from then
    count(prefix, queue, tags, from, -1, fn)
    index_remove(prefix, id, queue, from, fn, tags)
  end
  if to then
    count(prefix, queue, tags, to, 1, fn)
    index_add(prefix, id, queue, to, fn, tags, at_ms, score)
    if FINISHED[to] then count(prefix, queue, tags, "total_" .. to, 1, fn) end
  end
end

local function flush_counts()
  for key, fields in pairs(pending_counts) do
    local changed = false
    for field, n in pairs(fields) do
      if n ~= 0 then
        redis.call("HINCRBY", key, field, n)
        if not TOTALS[field] then changed = true end
      end
    end
    if changed and tag_count_keys[key] then
      local live = false
      for _, v in ipairs(redis.call("HMGET", key, unpack(STATES))) do
        if v and v ~= "0" then
          live = true
          break
        end
      end
      if live then redis.call("PERSIST", key) else redis.call("PEXPIRE", key, TAG_COUNTS_KEEP_MS) end
    end
  end
  for key in pairs(throughput_keys) do redis.call("PEXPIRE", key, THROUGHPUT_KEEP_MS) end
  pending_counts = {}
  tag_count_keys = {}
  throughput_keys = {}
end

local function emit(prefix, maxlen, event, id, queue, fn, tags, ...)
  if tonumber(maxlen) > 0 then
    if tags and tags ~= "" and tags ~= "{}" then
      redis.call("XADD", prefix .. ":events", "MAXLEN", "~", maxlen, "*", "event", event, "job_id", id,
        "queue", queue, "function", fn or "", "tags", tags, ...)
    else
      redis.call("XADD", prefix .. ":events", "MAXLEN", "~", maxlen, "*", "event", event, "job_id", id,
        "queue", queue, "function", fn or "", ...)
    end
  end
end

-- any_aborting(prefix): whether any abort is pending; asked once per call, so the common case costs no per-job
-- lookups in {prefix}:aborting.
local aborting_known = nil
local function any_aborting(prefix)
  if aborting_known == nil then aborting_known = redis.call("EXISTS", prefix .. ":aborting") == 1 end
  return aborting_known
end

--!include batch

-- end_job: record a job's outcome (completed, failed or aborted) in its record, counters, index and events.
-- known: false, or what the caller knows for sure of the job -- { state, tags, function, tries } -- which saves
-- reading the record (finish.lua: a job whose lease we hold is active, and its worker has its tags). The caller
-- deletes the job itself (payload, queue entry, lease) as its worker's protocol requires.
local function end_job(prefix, now, maxlen, id, queue, state, err, known)
  local meta = prefix .. ":meta:" .. id
  local rec = known
  if not rec then
    rec = redis.call("HMGET", meta, "s", "tg", "f")
    rec[4] = redis.call("GET", "arq:retry:" .. id) or "0"
    redis.call("HSET", meta, "q", queue)  -- a job claimed under our engine has it already
  end
  if err ~= "" then
    redis.call("HSET", meta, "s", state, "ft", now, "t", rec[4], "err", err)
  else
    redis.call("HSET", meta, "s", state, "ft", now, "t", rec[4])
  end
  move(prefix, id, queue, rec[2], rec[1], state, now, rec[3])
  if state ~= "aborted" then
    local minute_key = prefix .. ":throughput:" .. math.floor(tonumber(now) / 60000)
    throughput_keys[minute_key] = true
    bump(minute_key, queue .. ":" .. state, 1)
  end
  batch_job_ended(prefix, now, maxlen, id, rec[2], state)
  if any_aborting(prefix) then redis.call("SREM", prefix .. ":aborting", id) end
  if err ~= "" then
    emit(prefix, maxlen, state, id, queue, rec[3], rec[2], "try", rec[4], "error", err)
  else
    emit(prefix, maxlen, state, id, queue, rec[3], rec[2], "try", rec[4])
  end
end
