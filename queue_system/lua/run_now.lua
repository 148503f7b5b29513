--[[
run_now: make a delayed or retrying job due at once ("promote" in Bull Board). Its score becomes now (keeping the
fraction that carries its priority, see include/promote.lua), so the next claim ranks it into its priority band
like any due job; its queue's wake list gets a token so an idle worker looks at once. Its state changes when a
worker promotes it (delayed/retrying -> waiting), as for any job whose time came.

ARGV[1] key prefix   ARGV[2] now ms   ARGV[3] job id
Returns { outcome, state } with outcome "promoted", "not_due" (the job is in another state; nothing changed)
or "not_found".
]]
--!include state
local prefix, now, id = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local rec = redis.call("HMGET", prefix .. ":meta:" .. id, "s", "q", "tg", "f")
local state, queue = rec[1], rec[2]
if not state or not queue then return { "not_found", "" } end
if state ~= "delayed" and state ~= "retrying" then return { "not_due", state } end
local qkey = queue_key_of(queue)
local score = tonumber(redis.call("ZSCORE", qkey, id))
if not score or score < 1e12 then return { "not_due", state } end
local fraction = score - math.floor(score)
redis.call("ZADD", qkey, "XX", now + fraction, id)
move(prefix, id, queue, rec[3], state, state, now, rec[4], now + fraction)  -- re-scored in its indexes too
redis.call("LPUSH", prefix .. ":wake:" .. queue, "1")
redis.call("LTRIM", prefix .. ":wake:" .. queue, 0, 0)
return { "promoted", state }
