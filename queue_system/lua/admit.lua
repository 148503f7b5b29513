--[[
admit: admit one job under its limits (include/limits.lua) from the worker's middleware -- under arq's own Worker
for every limited job, under our engine only for a job whose keyed rate limit had no key in its record when it
was claimed (the key is computed from its arguments by the worker). Admitted: its start is recorded in each rate
window and a slot taken in each cap, held for ARGV[6] ms (the lease, renewed by renew.lua under our engine; the
job's timeout under arq's, which has no renewal) and given back by finish.lua or release.lua.

ARGV[1] key prefix   ARGV[2] job id   ARGV[3] queue name   ARGV[4] function name   ARGV[5] limit key ("" = none)
ARGV[6] slot ms
Returns 0 (admitted), the ms until a rate window frees, or -1 (a concurrency cap is full).
]]
--!include state
--!include limits
local verdict = admit(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]))
if verdict == -2 then return 0 end  -- the function's limit is not keyed any more (configuration changed)
return verdict
