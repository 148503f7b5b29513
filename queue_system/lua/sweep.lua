--[[
sweep: apply a queue's retention policy to its finished records (include/retain.lua). finish.lua trims as jobs
finish; a worker also runs this every few seconds so records past their age go even when nothing finishes.

ARGV[1] key prefix   ARGV[2] now ms   ARGV[3] queue name   ARGV[4] budget (records at most per state)
ARGV[5..] triples: state, keep count (-1 = any number), keep age ms (-1 = forever)
Returns the number of records removed.
]]
--!include state
--!include retain
local prefix, now, queue, budget = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local removed = 0
for i = 5, #ARGV, 3 do
  removed = removed + trim(prefix, queue, ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), now, budget)
end
flush_counts()
return removed
