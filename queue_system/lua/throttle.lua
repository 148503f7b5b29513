-- throttle: one try of the public shared rate limiter (throttle.py) to start something under every given scope
-- at once, in one atomic step, by Redis's own clock. Needs include/limits.lua (rate_wait, limits_now: the
-- framework's sliding log, so "n starts in any window of w ms" means the same here as for job admission).
--
-- ARGV: prefix, member (unique per try), then triples: scope ("t:<name>"), n (starts per window; 0 = no
-- rate, only pauses), window ms. Keys touched: {prefix}:throttle-pause:<scope> (set by throttle_pause.lua) and the log
-- {prefix}:rate:<scope> (throttle.py adds "t:" to every scope: apart from the job limits' q:/f:/k: scopes).
-- Returns {wait ms, Redis time ms}: wait 0 = admitted (the start recorded in every scope's log at that time),
-- else how long until the longest pause ends or, without pauses, until every log has room.
--!include limits
local prefix, member = ARGV[1], ARGV[2]
local now = limits_now()
local rates = {}
local wait = 0
for i = 3, #ARGV, 3 do
  local scope = ARGV[i]
  local paused = redis.call("PTTL", prefix .. ":throttle-pause:" .. scope)
  if paused > wait then wait = paused end
  local n = tonumber(ARGV[i + 1])
  if n > 0 then rates[#rates + 1] = { prefix .. ":rate:" .. scope, n, tonumber(ARGV[i + 2]) } end
end
if wait > 0 then return { wait, now } end
for _, r in ipairs(rates) do
  wait = math.max(wait, rate_wait(r[1], r[2], r[3], now))
end
if wait > 0 then return { wait, now } end
for _, r in ipairs(rates) do
  redis.call("ZADD", r[1], now, member)
  redis.call("PEXPIRE", r[1], r[3] + 1000)
end
return { 0, now }
