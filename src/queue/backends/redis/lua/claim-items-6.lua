-- claim-items: leases up to `max` ready items of the given task types to one owner, fairly
-- across the types, by priority within a type.
--
-- KEYS[1..6], ARGV[1..5]: the queue's keys and key prefixes (see includes/queue-lib.lua).
-- ARGV[6]   now, epoch ms (the caller's clock)
-- ARGV[7]   owner
-- ARGV[8]   lease end, epoch ms
-- ARGV[9]   max, the most items to lease (>= 1)
-- ARGV[10]  most delayed items made ready per task type and round, beyond the type's share
-- ARGV[11]  task type whose wake token the caller already took with BLPOP ('' for none)
-- ARGV[12]  most wake tokens kept per task type
-- ARGV[13…] task types, distinct, in the caller's rotation order
--
-- Returns: { next, id, data, id, data, … } where data is "<jobId>:<priority>:<availableAt>:
-- <taskType>". `next` is -1 when items were leased; otherwise the earliest availableAt among
-- the types' delayed items (-1 when there are none), so a blocked claimer knows when to look
-- again.
--
-- Fairness (same rule as the SQL backend): each round splits what is still wanted evenly over
-- the types not yet known to be empty, the remainder going one each to the first types of the
-- rotation; a type that yields less than its share is empty and drops out, and the next round
-- re-splits the rest. So `max` items come back whenever that many are ready.

--- @include queue-lib

local now = ARGV[6]
local owner = ARGV[7]
local lease_end = ARGV[8]
local remaining = tonumber(ARGV[9])
local promote_batch = tonumber(ARGV[10])
local woken = ARGV[11]
local cap = tonumber(ARGV[12])
local types = {}
for i = 13, #ARGV do types[#types + 1] = ARGV[i] end

-- Moves due delayed items of a type into its ready set (at most `limit`).
local function promote(task_type, limit)
  local key = P_DELAYED .. task_type
  local due = redis.call('ZRANGEBYSCORE', key, '-inf', now, 'LIMIT', 0, limit)
  if #due == 0 then return end
  for _, id in ipairs(due) do
    local _, priority, available_at = parse_item(redis.call('HGET', K_ITEMS, id))
    redis.call('ZADD', P_READY .. task_type, -priority, ready_member(id, available_at))
  end
  call_batched('ZREM', key, due)
end

local out = { -1 }
local owner_key = P_OWNER .. owner
local got_by_type = {}
local active = types

while remaining > 0 and #active > 0 do
  local base = math.floor(remaining / #active)
  local extra = remaining % #active
  local still_active = {}
  local claimed = 0
  for i, task_type in ipairs(active) do
    local share = base
    if i <= extra then share = share + 1 end
    if share == 0 then
      still_active[#still_active + 1] = task_type
    else
      -- Promoting at least `share` due items means the type yields less than its share only
      -- when it has fewer ready and due items than that: only then does it drop out.
      promote(task_type, math.max(share, promote_batch))
      local popped = redis.call('ZPOPMIN', P_READY .. task_type, share)
      local n = #popped / 2
      for j = 1, #popped, 2 do
        local id = id_of_ready_member(popped[j])
        lease_item(id, owner, owner_key, lease_end)
        out[#out + 1] = id
        out[#out + 1] = redis.call('HGET', K_ITEMS, id)
      end
      if n > 0 then
        redis.call('HINCRBY', K_LEASED_COUNTS, task_type, n)
        got_by_type[task_type] = (got_by_type[task_type] or 0) + n
      end
      claimed = claimed + n
      if n == share then still_active[#still_active + 1] = task_type end
    end
  end
  remaining = remaining - claimed
  active = still_active
end

-- Wake tokens track ready items: take one per item leased (less the one BLPOP took), then top
-- the list up again if ready items are left, so the next blocked claimer wakes for them.
for _, task_type in ipairs(types) do
  local take = got_by_type[task_type] or 0
  if task_type == woken then take = take - 1 end
  if take > 0 then redis.call('LTRIM', P_WAKE .. task_type, take, -1) end
  local ready = redis.call('ZCARD', P_READY .. task_type)
  if ready > 0 then push_tokens(task_type, ready, cap) end
end

if #out == 1 then
  local next_due = -1
  for _, task_type in ipairs(types) do
    local first = redis.call('ZRANGE', P_DELAYED .. task_type, 0, 0, 'WITHSCORES')
    if first[2] then
      local at = tonumber(first[2])
      if next_due < 0 or at < next_due then next_due = at end
    end
  end
  out[1] = next_due
end

return out
