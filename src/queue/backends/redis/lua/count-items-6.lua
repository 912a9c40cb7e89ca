-- count-items: ready, delayed and leased counts per task type, read in one consistent view.
--
-- KEYS[1..6], ARGV[1..5]: the queue's keys and key prefixes (see includes/queue-lib.lua).
-- ARGV[6]   now, epoch ms: delayed items due after it count as `delayed`
--
-- Returns: { type, ready, delayed, leased, type, ready, delayed, leased, … } for the task
-- types that have items, where `ready` includes `delayed` (as QueueCounts defines it).

--- @include queue-lib

local out = {}
for _, task_type in ipairs(redis.call('SMEMBERS', K_TYPES)) do
  local delayed_key = P_DELAYED .. task_type
  local ready = redis.call('ZCARD', P_READY .. task_type) + redis.call('ZCARD', delayed_key)
  local delayed = redis.call('ZCOUNT', delayed_key, '(' .. ARGV[6], '+inf')
  local leased = tonumber(redis.call('HGET', K_LEASED_COUNTS, task_type) or '0')
  if ready + leased > 0 then
    out[#out + 1] = task_type
    out[#out + 1] = ready
    out[#out + 1] = delayed
    out[#out + 1] = leased
  end
end
return out
