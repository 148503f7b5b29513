-- limits: rate limits and concurrency caps, shared by claim.lua (our engine admits jobs as it claims them),
-- admit.lua (the worker middleware: arq's own Worker, and keyed limits whose key only the worker can compute),
-- renew.lua, finish.lua and release.lua. Needs include/state.lua.
--
-- Configuration: the hash {prefix}:limits, published by workers at start-up; field "q:<queue>" or
-- "f:<function>" -> JSON {"n": starts, "w": window ms, "c": cap, "k": true when the function's rate is keyed}
-- (absent fields: no such limit). When the hash does not exist nothing here runs, so unlimited setups pay one
-- EXISTS per script call.
--
-- Rate limit: a sliding log, the sorted set {prefix}:rate:<scope> of admitted starts (score = start ms). A start
-- is admitted when fewer than n starts lie in (now - w, now], so no window of w ms ever holds more than n starts
-- (a token bucket or GCRA lets a burst of n and then more inside the same window). The refusal says exactly
-- when the window frees: the start whose expiry makes room, plus w. Scopes: "q:<queue>", "f:<function>",
-- "k:<function>:<key>". An admitted job's record gets its admission time (field "ad", Redis ms): the start
-- the limits counted, auditable after the fact.
-- Concurrency cap: the sorted set {prefix}:cap:<scope> of running job ids scored by the end of their slot's
-- lease (now + lease ms, extended by renew.lua like the job's lease, removed by finish.lua). Expired members are
-- dropped before counting, so a SIGKILLed worker's slot comes back within one lease. Scopes "q:<queue>",
-- "f:<function>". The cap scopes a job holds are kept in its record (field "ck") so finish and renew find them.
-- Time: Redis's own clock (TIME), one clock for every worker process whatever their hosts' clocks say.
local limit_config = nil
local function load_limits(prefix)
  if limit_config == nil then
    limit_config = false
    if redis.call("EXISTS", prefix .. ":limits") == 1 then
      limit_config = {}
      local raw = redis.call("HGETALL", prefix .. ":limits")
      for i = 1, #raw, 2 do
        local ok, decoded = pcall(cjson.decode, raw[i + 1])
        if ok and type(decoded) == "table" then limit_config[raw[i]] = decoded end
      end
    end
  end
  return limit_config
end

local redis_now_ms = nil
local function limits_now()
  if redis_now_ms == nil then
    local t = redis.call("TIME")
    redis_now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return redis_now_ms
end

-- ms until one more start is allowed under (key, n, w) by the log alone; 0 = now
local trimmed = {}  -- limit keys already trimmed of expired entries in this script call
local expiring = {}  -- rate keys whose expiry was already pushed back in this script call
local function rate_wait(key, n, w, now)
  if not trimmed[key] then
    redis.call("ZREMRANGEBYSCORE", key, "-inf", now - w)
    trimmed[key] = true
  end
  local count = redis.call("ZCARD", key)
  if count < n then return 0 end
  local entry = redis.call("ZRANGE", key, count - n, count - n, "WITHSCORES")
  return math.max(1, tonumber(entry[2]) + w - now)
end

-- when a refused job should come back: when the log frees, but never sooner than w / n after the job refused
-- before it, whichever worker or script call refused that one ({prefix}:rate-tail:<scope> keeps the last such
-- time). A backlog thus comes back spread at the limit's own pace instead of all at once each time the window
-- frees; the log still decides at each claim, so this only saves work.
local function come_back(prefix, scope, n, w, wait, now)
  local tail_key = prefix .. ":rate-tail:" .. scope
  local due = math.max(now + wait, tonumber(redis.call("GET", tail_key) or "0") + w / n)
  redis.call("SET", tail_key, string.format("%d", due), "PX", math.floor(due - now + w))
  return due - now
end

-- caps found full in this script call: later jobs under the same cap are left waiting without another look
local full_caps = {}
local function cap_free(key, cap, id, now)
  if full_caps[key] then return false end
  if not trimmed[key] then
    redis.call("ZREMRANGEBYSCORE", key, "-inf", now)
    trimmed[key] = true
  end
  if redis.call("ZSCORE", key, id) then return true end  -- its earlier attempt's slot (a crashed worker)
  if redis.call("ZCARD", key) < cap then return true end
  full_caps[key] = true
  return false
end

-- admit(prefix, id, queue, fn, rkey, slot_ms): 0 = admitted (its starts recorded and its slots taken),
-- > 0 = a rate limit is full for that many ms, -1 = a cap is full, -2 = the function's rate is keyed and the
-- key is unknown here (rkey false/""): the caller leaves the job to the worker's middleware.
local function admit(prefix, id, queue, fn, rkey, slot_ms)
  local cfg = load_limits(prefix)
  if not cfg then return 0 end
  local q, f = cfg["q:" .. queue], cfg["f:" .. fn]
  if not q and not f then return 0 end
  if f and f["k"] and (not rkey or rkey == "") then return -2 end
  local rates, caps = {}, {}
  if q and q["n"] then rates[#rates + 1] = { "q:" .. queue, q["n"], q["w"] } end
  if q and q["c"] then caps[#caps + 1] = { "q:" .. queue, q["c"] } end
  if f and f["n"] then
    rates[#rates + 1] = { f["k"] and ("k:" .. fn .. ":" .. rkey) or ("f:" .. fn), f["n"], f["w"] }
  end
  if f and f["c"] then caps[#caps + 1] = { "f:" .. fn, f["c"] } end
  local now = limits_now()
  for _, c in ipairs(caps) do
    if not cap_free(prefix .. ":cap:" .. c[1], c[2], id, now) then return -1 end
  end
  local waits, refused = {}, false
  for i, r in ipairs(rates) do
    waits[i] = rate_wait(prefix .. ":rate:" .. r[1], r[2], r[3], now)
    refused = refused or waits[i] > 0
  end
  if refused then
    local wait = 1
    for i, r in ipairs(rates) do
      if waits[i] > 0 then wait = math.max(wait, come_back(prefix, r[1], r[2], r[3], waits[i], now)) end
    end
    return math.ceil(wait)
  end
  for _, r in ipairs(rates) do
    local key = prefix .. ":rate:" .. r[1]
    redis.call("ZADD", key, now, id .. ":" .. now)
    if not expiring[key] then
      redis.call("PEXPIRE", key, r[3] + 1000)
      expiring[key] = true
    end
  end
  if #caps > 0 then
    local scopes = {}
    for _, c in ipairs(caps) do
      redis.call("ZADD", prefix .. ":cap:" .. c[1], now + slot_ms, id)
      scopes[#scopes + 1] = c[1]
    end
    redis.call("HSET", prefix .. ":meta:" .. id, "ad", now, "ck", table.concat(scopes, " "))
  else
    redis.call("HSET", prefix .. ":meta:" .. id, "ad", now)
  end
  return 0
end

-- give a running job's cap slots back (finish, or the middleware under arq's own Worker); wakes the queue when
-- a cap was full, so a job waiting for the slot starts at once
local function release_caps(prefix, id, queue)
  local meta = prefix .. ":meta:" .. id
  local held = redis.call("HGET", meta, "ck")
  if not held then return end
  local cfg, was_full = load_limits(prefix) or {}, false
  for scope in string.gmatch(held, "%S+") do
    local key = prefix .. ":cap:" .. scope
    local cap = cfg[scope] and tonumber(cfg[scope]["c"]) or 0
    if redis.call("ZCARD", key) >= cap then was_full = true end
    redis.call("ZREM", key, id)
  end
  redis.call("HDEL", meta, "ck")
  if was_full then
    redis.call("LPUSH", prefix .. ":wake:" .. queue, "1")
    redis.call("LTRIM", prefix .. ":wake:" .. queue, 0, 0)
  end
end

-- extend a running job's cap slots with its lease (renew.lua)
local function renew_caps(prefix, id, lease_ms)
  local held = redis.call("HGET", prefix .. ":meta:" .. id, "ck")
  if not held then return end
  local until_ms = limits_now() + tonumber(lease_ms)
  for scope in string.gmatch(held, "%S+") do
    redis.call("ZADD", prefix .. ":cap:" .. scope, "XX", until_ms, id)
  end
end

-- postpone a job: re-score it to its due time (unless qkey is false: arq's own Worker re-scores it itself),
-- state -> delayed, count it (per function, and per queue and function for the metrics: job_stats.py). The
-- caller deals with the lease and the try.
local function postpone_job(prefix, id, qkey, queue, from_state, tags, fn, due_score, now)
  if qkey then redis.call("ZADD", qkey, due_score, id) end
  redis.call("HSET", prefix .. ":meta:" .. id, "s", "delayed")
  move(prefix, id, queue, tags, from_state, "delayed", now, fn, qkey and due_score or nil)
  local name = fn ~= "" and fn or "?"
  redis.call("HINCRBY", prefix .. ":postponed", name, 1)
  redis.call("HINCRBY", prefix .. ":postponed", "*", 1)
  redis.call("HINCRBY", prefix .. ":stats:" .. queue, "postponed:" .. name, 1)
end
