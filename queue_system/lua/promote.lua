--[[
promote: give due jobs their priority, and route jobs that plain-arq producers put in arq's default queue.

A job is "due but unranked" when its score is a timestamp (>= 1e12, far above every priority band) that has
passed: a deferred job whose time came, a retry whose backoff ran out, or a job a plain-arq producer wrote with
score = now. Each is moved into its priority band (priority * 1e11 + seq), with the priority from its meta hash,
else the function's registered default, else normal. When KEYS[1] is the inbox (arq's default queue), a job
whose function is registered for another queue is moved to that queue instead.

KEYS[1] queue zset   KEYS[2] seq counter of that queue   KEYS[3] functions hash
ARGV[1] now ms       ARGV[2] max jobs to move            ARGV[3] key prefix ("qs")
ARGV[4] "1" if KEYS[1] is the inbox                       ARGV[5] this queue's name
Returns the number of jobs moved.
]]
local due = redis.call("ZRANGEBYSCORE", KEYS[1], 1e12, ARGV[1], "LIMIT", 0, tonumber(ARGV[2]))
local prefix = ARGV[3]
for _, id in ipairs(due) do
  local meta = prefix .. ":meta:" .. id
  local fields = redis.call("HMGET", meta, "p", "q")
  local priority = tonumber(fields[1])
  local target_queue = ARGV[5]
  local target_key = KEYS[1]
  local seq_key = KEYS[2]
  if priority == nil or ARGV[4] == "1" then
    local payload = redis.call("GET", "arq:job:" .. id)
    local ok, job = pcall(cjson.decode, payload or "")
    if ok and type(job) == "table" and type(job["f"]) == "string" then
      local info = redis.call("HGET", KEYS[3], job["f"])
      if info then
        local okinfo, policy = pcall(cjson.decode, info)
        if okinfo and type(policy) == "table" then
          priority = priority or tonumber(policy["priority"])
          if ARGV[4] == "1" and fields[2] == false and type(policy["queue"]) == "string"
              and policy["queue"] ~= ARGV[5] then
            target_queue = policy["queue"]
            target_key = policy["queue_key"]
            seq_key = prefix .. ":seq:" .. target_queue
          end
        end
      end
    end
  end
  priority = priority or 2
  local score = priority * 1e11 + (redis.call("INCR", seq_key) % 1e11)
  if target_key ~= KEYS[1] then
    redis.call("ZREM", KEYS[1], id)
    redis.call("HSET", meta, "q", target_queue, "p", priority)
  end
  redis.call("ZADD", target_key, score, id)
end
return #due
