-- promote(queue_key, queue_name, now_ms, limit, prefix): give due jobs their priority band; route inbox jobs.
-- Needs include/state.lua (the caller runs flush_counts() at its end).
--
-- A job is "due but unranked" when its score is a timestamp (>= 1e12, far above every priority band) that has
-- passed: a deferred job whose time came, a retry whose backoff ran out, or a job a plain-arq producer wrote with
-- score = now. Each is moved into its priority band (priority * 1e11 + seq), with the priority its score's
-- fraction carries ((priority + 1) / 10, set by enqueue and by retries), else its record's, else the
-- function's registered default, else normal. In the inbox (arq's default queue, name
-- "default"), a job without a recorded queue whose function is registered for another queue is moved to that
-- queue and its wake list gets a token. State: delayed and retrying become waiting; a job no script has recorded
-- yet (a plain-arq producer's) gets its record here, as waiting. Returns the number of jobs moved.
local function promote(queue_key, queue_name, now_ms, limit, prefix)
  local due = redis.call("ZRANGEBYSCORE", queue_key, 1e12, now_ms, "WITHSCORES", "LIMIT", 0, limit)
  local inbox = queue_name == "default"
  for i = 1, #due, 2 do
    local id, old_score = due[i], tonumber(due[i + 1])
    local meta = prefix .. ":meta:" .. id
    local fields = redis.call("HMGET", meta, "p", "q", "s", "tg", "f")
    local state = fields[3]
    local fraction = math.floor((old_score - math.floor(old_score)) * 10 + 0.5)
    local priority = (fraction >= 1 and fraction <= 5) and (fraction - 1) or tonumber(fields[1])
    local target_queue, target_key = queue_name, queue_key
    local fn, enqueued = nil, nil
    if priority == nil or not state or (inbox and not fields[2]) then
      local ok, job = pcall(cjson.decode, redis.call("GET", "arq:job:" .. id) or "")
      if ok and type(job) == "table" then
        fn, enqueued = job["f"], tonumber(job["et"])
      end
      local info = type(fn) == "string" and redis.call("HGET", prefix .. ":functions", fn)
      local okinfo, policy = pcall(cjson.decode, info or "")
      if okinfo and type(policy) == "table" then
        priority = priority or tonumber(policy["priority"])
        if inbox and not fields[2] and type(policy["queue"]) == "string" and policy["queue"] ~= queue_name then
          target_queue, target_key = policy["queue"], policy["queue_key"]
        end
      end
    end
    priority = priority or 2
    local score = priority * 1e11 + (redis.call("INCR", prefix .. ":seq:" .. target_queue) % 1e11)
    if target_key ~= queue_key then
      redis.call("ZREM", queue_key, id)
      redis.call("LPUSH", prefix .. ":wake:" .. target_queue, "1")
      redis.call("LTRIM", prefix .. ":wake:" .. target_queue, 0, 0)
    end
    redis.call("ZADD", target_key, score, id)
    if not state then
      redis.call("HSET", meta, "q", target_queue, "p", priority, "f", type(fn) == "string" and fn or "",
        "s", "waiting", "et", string.format("%.0f", enqueued or tonumber(now_ms)))
      move(prefix, id, target_queue, fields[4], false, "waiting", now_ms, type(fn) == "string" and fn or "", score)
    elseif state == "delayed" or state == "retrying" then
      redis.call("HSET", meta, "s", "waiting")
      move(prefix, id, fields[2] or target_queue, fields[4], state, "waiting", now_ms, fields[5], score)
    end
  end
  return #due / 2
end
