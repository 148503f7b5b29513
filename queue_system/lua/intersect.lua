--[[
intersect: one page of the jobs found in two indexes (a function's and a tag's, see include/state.lua), with
the exact size of their intersection, in one atomic step.

The smaller index (KEYS[1]) is walked by rank, newest first (or oldest first with "asc"), and its members the
other index holds are kept: the page costs the offset plus the page's worth of matches, read from the smaller
index, at most a budget of its members (the answer's "more" then says matches may follow). The total is not
counted here but read: the tag's counter hash keeps the number of its jobs per function and state (field
"fn:{function}:{state}"), so it costs O(1) at any size. A filter on a function alone or a tag alone pages its
index by rank and never comes here.

KEYS[1] the smaller index   KEYS[2] the other   KEYS[3] the tag's counter hash
ARGV[1] offset   ARGV[2] limit   ARGV[3] "asc" (lowest scores first) or "desc"   ARGV[4] budget
ARGV[5] the counter field ("fn:{function}:{state}")
Returns { { ids }, more (1: matches follow the page), total }
]]
local offset, limit, budget = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[4])
local total = tonumber(redis.call("HGET", KEYS[3], ARGV[5]) or "0")
local page, matched, pos = {}, 0, 0
local chunk = 1000
while pos < budget and matched < math.min(total, offset + limit + 1) do
  local ids
  if ARGV[3] == "asc" then
    ids = redis.call("ZRANGE", KEYS[1], pos, pos + chunk - 1)
  else
    ids = redis.call("ZREVRANGE", KEYS[1], pos, pos + chunk - 1)
  end
  if #ids == 0 then break end
  pos = pos + #ids
  for _, id in ipairs(ids) do
    if redis.call("ZSCORE", KEYS[2], id) then
      matched = matched + 1
      if matched > offset + limit then return { page, 1, total } end
      if matched > offset then page[#page + 1] = id end
    end
  end
end
return { page, (offset + #page < total) and 1 or 0, total }
