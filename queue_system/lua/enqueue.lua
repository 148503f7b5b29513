--[[
enqueue: atomically create one job unless its id is taken.

A job id is taken while its payload (arq:job:{id}) or its result (arq:result:{id}) exists, which is arq's own
rule; doing the check and the writes in one script makes 100 concurrent enqueues of one id create one job.

Score: a ready job gets   priority * 1e11 + seq   (seq = per-queue counter), so among ready jobs a higher
priority always sorts first and FIFO holds within a level, while every ready score stays far below "now" in ms
(arq only starts members whose score <= now). A deferred job gets its due time in ms; promote.lua re-scores it
into its priority band once it is due.

KEYS[1] job key      KEYS[2] result key   KEYS[3] queue zset   KEYS[4] meta hash
KEYS[5] seq counter  KEYS[6] queues set  KEYS[7] wake list of the queue
ARGV[1] job id       ARGV[2] payload      ARGV[3] payload ttl ms   ARGV[4] due ms (0 = now)
ARGV[5] now ms       ARGV[6] priority     ARGV[7] queue name        ARGV[8] function
ARGV[9] tags json    ARGV[10] force: "1" replaces an existing result (failed-store retry)
Returns 1 when created, 0 when the id is taken.

Every created job leaves one wake-up token (the list holds at most one), so an idle worker blocked on the list
starts it at once, or recomputes its sleep when the job is deferred.
]]
if ARGV[10] == "1" then
  redis.call("DEL", KEYS[2])
elseif redis.call("EXISTS", KEYS[1], KEYS[2]) > 0 then
  return 0
end
local due = tonumber(ARGV[4])
local score
if due > tonumber(ARGV[5]) then
  score = due
else
  score = tonumber(ARGV[6]) * 1e11 + (redis.call("INCR", KEYS[5]) % 1e11)
end
redis.call("SET", KEYS[1], ARGV[2], "PX", ARGV[3])
redis.call("ZADD", KEYS[3], score, ARGV[1])
redis.call("HSET", KEYS[4], "q", ARGV[7], "p", ARGV[6], "f", ARGV[8], "tg", ARGV[9], "et", ARGV[5])
redis.call("PEXPIRE", KEYS[4], ARGV[3])
redis.call("SADD", KEYS[6], ARGV[7])
redis.call("LPUSH", KEYS[7], "1")
redis.call("LTRIM", KEYS[7], 0, 0)
return 1
