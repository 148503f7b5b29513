--[[
claim: promote due jobs, then lease up to N ready jobs from the worker's queues, in queue order and priority
order within a queue, in one atomic step.

A job is ready when its score <= now and nobody holds its lease. The lease is arq's in-progress key (so a stock
arq worker sharing the queue respects it); its value is this attempt's fencing token and it expires after the
lease time unless the worker renews it (renew.lua). A worker whose lease now holds another token has lost the
job, and finish.lua refuses its outcome. Claiming counts the try (arq's retry key), so a crashed attempt counts.
A paused queue (in {prefix}:paused) is promoted but not claimed from. Each claimed job becomes active
(include/state.lua); a job whose previous attempt's worker died is still active, so claiming it again only moves
its start time. A claimed job whose abort was requested while its worker died comes back flagged, and the
worker records it as aborted without running it.

KEYS    the queue zsets, in the order the worker prefers them; the last one may be the inbox (promote only)
ARGV[1] now ms (or "~" and the ms it was sent at, see below)   ARGV[2] max jobs   ARGV[3] lease ms   ARGV[4] token prefix (unique per worker process)
ARGV[5] key prefix   ARGV[6] number of KEYS to claim from (the rest are only promoted)   ARGV[7..] queue names
When this worker's slots are full before a queue's ready jobs run out, a wake-up token is left on that queue's
wake list, so the next idle worker joins in at once instead of at its next idle poll.

Limits (include/limits.lua; nothing of this runs while no limit is configured): a job is admitted before it is
leased. A job over a rate limit is postponed to when its window frees (re-scored, state delayed, no try counted,
no lease taken); a job over a concurrency cap is left where it is, keeping its place, and the scan goes on past
it (at most CAP_SKIP such jobs per queue); a job whose keyed rate limit has no key in its record is claimed
unadmitted, flagged, and the worker's middleware admits it. Jobs postponed here leave a wake-up token, so the
worker looks again at once for the jobs behind them.
Returns { next_due_ms (or -1), then per job: queue index, id, score, token, try, payload, priority, tags,
          ended attempts, abort ("1" or ""), admitted ("1" or "": the worker must admit it) }
]]
--!include state
--!include promote
--!include limits
local CAP_SKIP = 1000
local SCAN_BUDGET = 5000  -- queue entries one claim reads per queue, at most (leased ones included)
local now, want, claim_count, prefix = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[6]), ARGV[5]
-- "~<ms>": sent ahead of a wait (wakeup.py), so the real time is later; an idle look compares with the time it
-- was sent (a job due since is found by the worker's timer), and Redis's clock is read once there is work
local stale = string.sub(now, 1, 1) == "~"
if stale then now = string.sub(now, 2) end
local out = { -1 }
local next_due = nil
local n = 0
local woken = {}

local function claim_one(k, id, score, queue, admitted)
  local lease = "arq:in-progress:" .. id
  local try = redis.call("INCR", "arq:retry:" .. id)
  redis.call("PEXPIRE", "arq:retry:" .. id, 88400000)
  local token = ARGV[4] .. ":" .. id .. ":" .. try
  redis.call("SET", lease, token, "PX", ARGV[3])
  local meta_key = prefix .. ":meta:" .. id
  local meta = redis.call("HMGET", meta_key, "q", "p", "tg", "ended", "s", "f")
  if meta[5] and meta[1] and meta[1] ~= queue then  -- recorded under another queue: count it out there
    move(prefix, id, meta[1], meta[3], meta[5], false, now, meta[6])
    meta[5] = false
  end
  move(prefix, id, queue, meta[3], meta[5], "active", now, meta[6])
  if meta[1] == queue then
    redis.call("HSET", meta_key, "s", "active", "st", now)
  else
    redis.call("HSET", meta_key, "s", "active", "st", now, "q", queue)
  end
  out[#out + 1] = k
  out[#out + 1] = id
  out[#out + 1] = score
  out[#out + 1] = token
  out[#out + 1] = try
  out[#out + 1] = redis.call("GET", "arq:job:" .. id) or ""
  for j = 2, 4 do out[#out + 1] = meta[j] or "" end
  out[#out + 1] = any_aborting(prefix) and redis.call("SISMEMBER", prefix .. ":aborting", id) == 1 and "1" or ""
  out[#out + 1] = admitted
  n = n + 1
end

-- admit one job under the configured limits; a job over a rate limit is postponed here (see the header)
local function admit_claim(prefix, id, key, queue, now)
  local meta = prefix .. ":meta:" .. id
  local rec = redis.call("HMGET", meta, "f", "rk")
  local verdict = admit(prefix, id, queue, rec[1] or "", rec[2], tonumber(ARGV[3]))
  if verdict > 0 then
    local more = redis.call("HMGET", meta, "s", "tg", "p")
    rec[3], rec[4], rec[5] = more[1], more[2], more[3]
    local priority = tonumber(rec[5]) or 2
    postpone_job(prefix, id, key, queue, rec[3], rec[4], rec[1] or "",
      tonumber(now) + verdict + (priority + 1) / 10, now)
    if not woken[queue] then
      woken[queue] = true
      redis.call("LPUSH", prefix .. ":wake:" .. queue, "1")
      redis.call("LTRIM", prefix .. ":wake:" .. queue, 0, 0)
    end
  end
  return verdict
end

-- the full look at one queue: promote what is due, then lease ready jobs
local function claim_from(k, key, queue)
  promote(key, queue, now, 100, prefix)
  if k <= claim_count and redis.call("SISMEMBER", prefix .. ":paused", queue) == 0 then
    local limited = load_limits(prefix)
    local offset, skipped, scanned = 0, 0, 0
    while n < want do
      local page = (want - n) * 2 + 8
      local candidates = redis.call("ZRANGEBYSCORE", key, "-inf", now, "WITHSCORES", "LIMIT", offset, page)
      local left = 0  -- candidates of this page still in the range afterwards (claimed, leased or capped)
      for c = 1, #candidates, 2 do
        local id = candidates[c]
        if n >= want then
          redis.call("LPUSH", prefix .. ":wake:" .. queue, "1")
          redis.call("LTRIM", prefix .. ":wake:" .. queue, 0, 0)
          break
        end
        left = left + 1
        local lease = "arq:in-progress:" .. id
        if redis.call("EXISTS", lease) == 0 then
          local verdict = limited and admit_claim(prefix, id, key, queue, now) or 0
          if verdict == -1 then
            skipped = skipped + 1
          elseif verdict > 0 then
            left = left - 1
          else
            claim_one(k, id, candidates[c + 1], queue, verdict == 0 and "1" or "")
          end
        end
      end
      scanned = scanned + #candidates / 2
      -- running jobs keep their place at the front (arq keeps them queued), so a page of only leased or capped
      -- jobs says nothing about what lies behind it: read on, within a budget
      if #candidates < page * 2 or skipped > CAP_SKIP or scanned >= SCAN_BUDGET then break end
      offset = offset + left
    end
    local upcoming = redis.call("ZRANGEBYSCORE", key, "(" .. now, "+inf", "WITHSCORES", "LIMIT", 0, 1)
    if upcoming[2] and (next_due == nil or tonumber(upcoming[2]) < next_due) then
      next_due = tonumber(upcoming[2])
    end
  end
end

-- An idle worker calls this every idle poll: one peek per queue is all it costs while nothing is ready or due
-- (ready scores sort below every timestamp, so the lowest score tells whether there is anything to do).
for k, key in ipairs(KEYS) do
  local lowest = redis.call("ZRANGEBYSCORE", key, "-inf", "+inf", "WITHSCORES", "LIMIT", 0, 1)[2]
  if lowest and tonumber(lowest) <= tonumber(now) then
    if stale then now, stale = string.format("%.0f", limits_now()), false end
    claim_from(k, key, ARGV[6 + k])
  elseif lowest and k <= claim_count and (next_due == nil or tonumber(lowest) < next_due) then
    next_due = tonumber(lowest)
  end
end
flush_counts()
if next_due then out[1] = tostring(next_due) end
return out
