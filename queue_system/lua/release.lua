--[[
release: give a job's concurrency-cap slots back when it ends under arq's own Worker (our engine does this in
finish.lua), and wake its queue so a job waiting for the slot starts at once.

ARGV[1] key prefix   ARGV[2] job id   ARGV[3] queue name
Returns 1.
]]
--!include state
--!include limits
release_caps(ARGV[1], ARGV[2], ARGV[3])
return 1
