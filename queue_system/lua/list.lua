--[[
list: one page of a queue's jobs in one state matching a function and a tag, read from a sorted set whose
members are checked against their records, in one call, scanning at most a budget of entries (its "more" flag
then says so). The read API uses it for active jobs only -- they have no index (include/state.lua): they are the
queue's leased members, first-claimed first (claims take the lowest scores, so they sit at its front). Every
other listing pages an index by rank (queue_system/listing.py).

KEYS[1] the sorted set to page
ARGV[1] key prefix   ARGV[2] max score   ARGV[3] min score   ARGV[4] state the record must say ("" = any)
ARGV[5] function ("" = any)   ARGV[6] tag "k=v" ("" = any)   ARGV[7] offset   ARGV[8] limit   ARGV[9] scan budget
ARGV[10] "asc" to scan from the lowest score up (else from the highest down)
Returns { { ids }, more (1 when more matches follow or the scan budget ran out, else 0) }
]]
--!include state
local prefix, state, fn, tag = ARGV[1], ARGV[4], ARGV[5], ARGV[6]
local offset, limit, budget = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local page, matched, scanned, pos = {}, 0, 0, 0
local chunk = 500
while scanned < budget do
  local ids
  if ARGV[10] == "asc" then
    ids = redis.call("ZRANGEBYSCORE", KEYS[1], ARGV[3], ARGV[2], "LIMIT", pos, chunk)
  else
    ids = redis.call("ZREVRANGEBYSCORE", KEYS[1], ARGV[2], ARGV[3], "LIMIT", pos, chunk)
  end
  if #ids == 0 then return { page, 0 } end
  pos = pos + #ids
  for _, id in ipairs(ids) do
    scanned = scanned + 1
    local ok = true
    if state ~= "" or fn ~= "" or tag ~= "" then
      local rec = redis.call("HMGET", prefix .. ":meta:" .. id, "s", "f", "tg")
      ok = (state == "" or rec[1] == state) and (fn == "" or rec[2] == fn)
      if ok and tag ~= "" then
        ok = false
        for _, kv in ipairs(tag_list(rec[3]) or {}) do
          if kv == tag then ok = true end
        end
      end
    end
    if ok then
      matched = matched + 1
      if matched > offset + limit then return { page, 1 } end
      if matched > offset then page[#page + 1] = id end
    end
  end
  if #ids < chunk then return { page, 0 } end
end
return { page, 1 }
