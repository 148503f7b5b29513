--[[
scan: a page of a queue's jobs in one state matching a function, a tag and/or a text in the payload (any case),
newest first, read from a cursor: it starts at a position of the sorted set and stops after a budget of entries,
so every call costs a bounded time whatever the queue's size. The caller carries the returned position to the
next call ("search further"). The caller passes the smallest sorted set the filters allow: with a function or a
tag, that index of the state (include/state.lua), read by rank; without, the state's index or the queue's score
band (waiting and active jobs share the ready band, so the record's state is checked). Every entry's record is
checked against the filters, so any of those sets gives the same answer. Encrypted payloads never match their
plain text.

KEYS[1] the sorted set to page
ARGV[1] key prefix   ARGV[2] max score   ARGV[3] min score   ARGV[4] state the record must say ("" = any)
ARGV[5] function ("" = any)   ARGV[6] tag "k=v" ("" = any)   ARGV[7] lower-case text ("" = any)
ARGV[8] start position   ARGV[9] limit   ARGV[10] scan budget
Returns { { ids }, next position (-1: the end was reached), scanned }
]]
--!include state
local prefix, state, fn, tag, text = ARGV[1], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local pos, limit, budget = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local page, scanned = {}, 0
local chunk = math.min(500, budget)
local by_rank = ARGV[2] == "+inf" and ARGV[3] == "-inf"  -- the whole set: O(log n) to reach any position

local function matches(id)
  local rec = redis.call("HMGET", prefix .. ":meta:" .. id, "s", "f", "tg")
  if state ~= "" and (rec[1] or "waiting") ~= state then return false end
  if fn ~= "" and rec[2] ~= fn then return false end
  if tag ~= "" then
    local found = false
    for _, kv in ipairs(tag_list(rec[3]) or {}) do
      if kv == tag then found = true end
    end
    if not found then return false end
  end
  if text == "" then return true end
  local body = redis.call("GET", "arq:job:" .. id) or redis.call("GET", "arq:result:" .. id) or ""
  local hay = string.lower(body .. " " .. (rec[2] or "") .. " " .. (rec[3] or ""))
  return string.find(hay, text, 1, true) ~= nil
end

while scanned < budget do
  local ids
  local size = math.min(chunk, budget - scanned)
  if by_rank then
    ids = redis.call("ZREVRANGE", KEYS[1], pos, pos + size - 1)
  else
    ids = redis.call("ZREVRANGEBYSCORE", KEYS[1], ARGV[2], ARGV[3], "LIMIT", pos, size)
  end
  if #ids == 0 then return { page, -1, scanned } end
  for _, id in ipairs(ids) do
    scanned = scanned + 1
    pos = pos + 1
    if matches(id) then
      page[#page + 1] = id
      if #page >= limit then return { page, pos, scanned } end
    end
  end
end
return { page, pos, scanned }
