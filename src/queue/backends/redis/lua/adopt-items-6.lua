-- adopt-items: adds items already leased by one owner (attempts a worker started itself), each
-- left exactly as enqueue-items then claim-items would leave it; an attempt id already queued
-- (ready, delayed or leased, by anyone) is left as it is.
--
-- KEYS[1..6], ARGV[1..5]: the queue's keys and key prefixes (see includes/queue-lib.lua).
-- ARGV[6]   owner
-- ARGV[7]   lease end, epoch ms (the caller's clock)
-- ARGV[8…]  pairs: attempt id, item data "<jobId>:<priority>:<availableAt>:<taskType>"
--
-- Returns: the ids added (leased by the owner); ids already queued are left out.
-- Wakes: nobody. An adopted item is never ready, so it gets no wake token: a token would only
-- wake a blocked claimer for nothing.

--- @include queue-lib

local owner = ARGV[6]
local lease_end = ARGV[7]
local owner_key = P_OWNER .. owner
local out = {}
local leased_added = {}

for i = 8, #ARGV, 2 do
  local id, data = ARGV[i], ARGV[i + 1]
  if redis.call('HSETNX', K_ITEMS, id, data) == 1 then
    local job, _, _, task_type = parse_item(data)
    lease_item(id, owner, owner_key, lease_end)
    track_item(id, job, task_type)
    leased_added[task_type] = (leased_added[task_type] or 0) + 1
    out[#out + 1] = id
  end
end

for task_type, n in pairs(leased_added) do
  redis.call('HINCRBY', K_LEASED_COUNTS, task_type, n)
end

return out
