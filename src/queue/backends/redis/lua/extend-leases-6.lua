-- extend-leases: moves the lease end of the owner's items.
--
-- KEYS[1..6], ARGV[1..5]: the queue's keys and key prefixes (see includes/queue-lib.lua).
-- ARGV[6]   owner
-- ARGV[7]   new lease end, epoch ms
-- ARGV[8…]  attempt ids, distinct
--
-- Returns: the ids the owner holds (their leases were moved); ids held by another owner, not
-- leased or not queued are left out and left alone. A lease that ran out but was not reclaimed
-- yet is still held, so it can be extended.

--- @include queue-lib

local owner = ARGV[6]
local lease_end = ARGV[7]
local out = {}
for i = 8, #ARGV do
  local id = ARGV[i]
  if redis.call('HGET', K_HOLDERS, id) == owner then
    redis.call('ZADD', K_LEASED, 'XX', lease_end, id)
    out[#out + 1] = id
  end
end
return out
