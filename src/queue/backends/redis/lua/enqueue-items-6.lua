-- enqueue-items: adds items; an attempt id already queued (ready, delayed or leased) is left
-- as it is.
--
-- KEYS[1..6], ARGV[1..5]: the queue's keys and key prefixes (see includes/queue-lib.lua).
-- ARGV[6]   now, epoch ms (the caller's clock): an item with availableAt <= now is ready
-- ARGV[7]   most wake tokens kept per task type
-- ARGV[8…]  pairs: attempt id, item data "<jobId>:<priority>:<availableAt>:<taskType>"
--
-- Returns: the number of items added.
-- Wakes: one blocked claimer per new ready item (up to the cap), and one claimer per task type
-- that received only delayed items, so it learns when the first of them is due.

--- @include queue-lib

local now = tonumber(ARGV[6])
local cap = tonumber(ARGV[7])
local added = 0
local ready_added = {}
local delayed_added = {}

for i = 8, #ARGV, 2 do
  local id, data = ARGV[i], ARGV[i + 1]
  if redis.call('HSETNX', K_ITEMS, id, data) == 1 then
    local job, priority, available_at, task_type = parse_item(data)
    if tonumber(available_at) <= now then
      redis.call('ZADD', P_READY .. task_type, -priority, ready_member(id, available_at))
      ready_added[task_type] = (ready_added[task_type] or 0) + 1
    else
      redis.call('ZADD', P_DELAYED .. task_type, available_at, id)
      delayed_added[task_type] = true
    end
    track_item(id, job, task_type)
    added = added + 1
  end
end

for task_type in pairs(ready_added) do
  push_tokens(task_type, redis.call('ZCARD', P_READY .. task_type), cap)
end
for task_type in pairs(delayed_added) do
  if not ready_added[task_type] then push_tokens(task_type, 1, 1) end
end

return added
