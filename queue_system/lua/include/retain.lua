-- retain: remove finished job records (completed, failed, aborted) by a queue's retention policy.
-- Needs include/state.lua. Removing a record deletes its hash, its logs and its result, takes it out of its
-- indexes (its state's, its function's, its tags'; one ZREM per index for the whole batch) and decrements its
-- counters (the totals stay), so counts and indexes stay exact.

local function remove_records(prefix, queue, state, ids)
  local members = {}  -- index key -> ids to take out of it, one ZREM per key and chunk
  for _, id in ipairs(ids) do
    local meta = prefix .. ":meta:" .. id
    local rec = redis.call("HMGET", meta, "tg", "f")
    count(prefix, queue, rec[1], state, -1, rec[2])
    for _, key in ipairs(index_keys(prefix, queue, state, rec[2], rec[1])) do
      local list = members[key]
      if not list then
        list = {}
        members[key] = list
      end
      list[#list + 1] = id
    end
    redis.call("DEL", meta, prefix .. ":logs:" .. id, "arq:result:" .. id)
  end
  for key, list in pairs(members) do
    for first = 1, #list, 1000 do
      redis.call("ZREM", key, unpack(list, first, math.min(first + 999, #list)))
    end
  end
  return #ids
end

-- trim(prefix, queue, state, keep_count, keep_age_ms, now_ms, budget): remove records older than keep_age_ms
-- (-1: any age), then the oldest beyond keep_count (-1: any number); at most budget of them. Returns how many.
local function trim(prefix, queue, state, keep_count, keep_age_ms, now, budget)
  local key = prefix .. ":jobs:" .. queue .. ":" .. state
  local removed = 0
  if keep_age_ms >= 0 then
    removed = remove_records(prefix, queue, state,
      redis.call("ZRANGEBYSCORE", key, "-inf", now - keep_age_ms, "LIMIT", 0, budget))
  end
  if keep_count >= 0 and removed < budget then
    local excess = redis.call("ZCARD", key) - keep_count
    if excess > 0 then
      local ids = redis.call("ZRANGE", key, 0, math.min(excess, budget - removed) - 1)
      removed = removed + remove_records(prefix, queue, state, ids)
    end
  end
  return removed
end
