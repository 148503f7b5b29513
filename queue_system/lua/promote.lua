--[[
promote: run the promote step (include/promote.lua) on one queue; used on each job start under arq's own
Worker, which has no claim script.

KEYS[1] queue zset
ARGV[1] now ms   ARGV[2] max jobs to move   ARGV[3] key prefix   ARGV[4] queue name
Returns the number of jobs moved.
]]
--!include state
--!include promote
local moved = promote(KEYS[1], ARGV[4], ARGV[1], tonumber(ARGV[2]), ARGV[3])
flush_counts()
return moved
