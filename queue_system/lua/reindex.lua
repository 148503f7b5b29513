-- reindex: one batch of the bookkeeping repair (queue_system/reindex.py), with state.lua's own index_keys(),
-- index_score() and count(), so the repair derives every index and counter exactly as the scripts that move jobs
-- do (one copy of the rules, and a repair cannot drift from them).
--
-- ARGV[1] prefix, ARGV[2] mode, ARGV[3] "1" for a dry run (look, write nothing), ARGV[4] JSON list of the
-- queues to repair ([] = all), ARGV[5...] job ids.
--   mode "records": the ids are job records (found by SCAN of {prefix}:meta:*). Each record's indexes get the
--     job (ZADD; a wrong score is corrected) and its counts are summed. Returns
--     { { queue, seen, added, rescored, ... }, { counter key, field, n, ... } }: the counts are what this batch's
--     records contribute; the caller adds the batches up and writes the counters once (they are absolute).
--   mode "index": ARGV[5] is one index key, ARGV[6...] some of its members (found by ZSCAN). A member whose
--     record does not put it in that index (gone, other state, function or tag) is removed. Returns the number
--     removed (to be removed, in a dry run).
-- Each call is a batch of a few hundred ids, so Redis is never blocked for long; see reindex.py for what holds
-- while other clients write.
--!include state

local prefix, mode, dry = ARGV[1], ARGV[2], ARGV[3] == "1"
local only = {}
local any_only = false
for _, q in ipairs(cjson.decode(ARGV[4])) do
  only[q] = true
  any_only = true
end

local function wanted(queue)
  return queue and (not any_only or only[queue])
end

local function contains(list, item)
  for _, x in ipairs(list) do
    if x == item then return true end
  end
  return false
end

if mode == "index" then
  local key = ARGV[5]
  local removed = 0
  for i = 6, #ARGV do
    local id = ARGV[i]
    local rec = redis.call("HMGET", prefix .. ":meta:" .. id, "q", "s", "f", "tg")
    if not (rec[1] and rec[2] and contains(index_keys(prefix, rec[1], rec[2], rec[3], rec[4]), key)) then
      removed = removed + 1
      if not dry then redis.call("ZREM", key, id) end
    end
  end
  return removed
end

local stats = {}
for i = 5, #ARGV do
  local id = ARGV[i]
  local rec = redis.call("HMGET", prefix .. ":meta:" .. id, "q", "s", "f", "tg", "ft", "et")
  local queue, state, fn, tags = rec[1], rec[2], rec[3], rec[4]
  if wanted(queue) and state then
    local seen = slot(stats, queue)
    seen.records = (seen.records or 0) + 1
    count(prefix, queue, tags, state, 1, fn)
    local keys = index_keys(prefix, queue, state, fn, tags)
    if #keys > 0 then
      local at = index_score(queue, id, state, (FINISHED[state] and rec[5] or rec[6]) or 0, nil)
      for _, key in ipairs(keys) do
        local current = redis.call("ZSCORE", key, id)
        if not current then
          seen.added = (seen.added or 0) + 1
        elseif tonumber(current) ~= tonumber(at) then
          seen.rescored = (seen.rescored or 0) + 1
        end
        if not dry and (not current or tonumber(current) ~= tonumber(at)) then redis.call("ZADD", key, at, id) end
      end
    end
  end
end

local per_queue = {}
for queue, seen in pairs(stats) do
  for _, v in ipairs({ queue, seen.records or 0, seen.added or 0, seen.rescored or 0 }) do
    per_queue[#per_queue + 1] = v
  end
end
local counted = {}
for key, fields in pairs(pending_counts) do
  for field, n in pairs(fields) do
    for _, v in ipairs({ key, field, n }) do counted[#counted + 1] = v end
  end
end
return { per_queue, counted }
