--[[
postpone: a job under arq's own Worker did not start after all (a limit was full) or asked to slow down
(errors.SlowDown): give its try back, record it as delayed, count the postponement and release any cap slot it
holds. arq itself re-scores the job to its due time (the runner raises arq's Retry with the delay). Our engine
does the same in finish.lua's "postpone" outcome.

ARGV[1] key prefix   ARGV[2] now ms   ARGV[3] job id   ARGV[4] queue name   ARGV[5] function name
Returns 1.
]]
--!include state
--!include limits
local prefix, now, id, queue = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local rec = redis.call("HMGET", prefix .. ":meta:" .. id, "s", "tg", "f")
redis.call("DECR", "arq:retry:" .. id)
release_caps(prefix, id, queue)
postpone_job(prefix, id, false, queue, rec[1], rec[2], rec[3] or ARGV[5], 0, now)
flush_counts()
return 1
