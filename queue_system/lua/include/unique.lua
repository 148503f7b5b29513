-- unique: how an enqueue with a unique key collapses (limits.Unique); used by enqueue.lua. Needs state.lua.
--
-- The lock {prefix}:unique:<function>:<key> holds the id of the job that owns the key. Modes:
--   active    a job still waiting, delayed, retrying or running owns the key: the enqueue returns it. The lock
--             is released lazily: a lock whose job has ended (or is gone) is stale and taken over, so no finish
--             path (ours or arq's own Worker) has to remember it.
--   ttl       the first job owns the key for the lock's TTL whatever happens to it (throttle).
--   debounce  a job not yet started owns the key: the enqueue replaces its payload and due time in place (same
--             id); a running or ended owner does not count, and the enqueue creates a new job.
local LIVE = { waiting = true, delayed = true, active = true, retrying = true }

-- unique_owner(prefix, id, mode, lock) -> owner id and "d" (return the owner) or "r" (replace it), or nil
local function unique_owner(prefix, id, mode, lock)
  local owner = redis.call("GET", lock)
  if not owner or owner == id then return nil end
  if mode == "ttl" then return owner, "d" end
  local state = redis.call("HGET", prefix .. ":meta:" .. owner, "s")
  if not state or not LIVE[state] or redis.call("EXISTS", "arq:job:" .. owner) == 0 then return nil end
  if mode == "active" then return owner, "d" end
  if state == "waiting" or state == "delayed" then return owner, "r" end
  return nil
end

-- debounce_replace: the owner (not started) takes the new payload and due time; its state becomes delayed.
local function debounce_replace(prefix, owner, payload, ttl, due, priority, queue, qkey, now)
  local meta = prefix .. ":meta:" .. owner
  local rec = redis.call("HMGET", meta, "s", "q", "tg", "f")
  local score = due + (tonumber(priority) + 1) / 10
  redis.call("SET", "arq:job:" .. owner, payload, "PX", ttl)
  if rec[2] and rec[2] ~= queue then
    redis.call("ZREM", queue_key_of(rec[2]), owner)
    move(prefix, owner, rec[2], rec[3], rec[1], false, now, rec[4])
    move(prefix, owner, queue, rec[3], false, "delayed", now, rec[4], score)
  else
    move(prefix, owner, queue, rec[3], rec[1], "delayed", now, rec[4], score)  -- delayed already: re-scored
  end
  redis.call("ZADD", qkey, score, owner)
  redis.call("HSET", meta, "s", "delayed", "q", queue, "et", now)
end
