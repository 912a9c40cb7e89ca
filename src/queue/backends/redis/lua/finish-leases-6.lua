-- finish-leases: removes items their owner completed or failed.
--
-- KEYS[1..6], ARGV[1..5]: the queue's keys and key prefixes (see includes/queue-lib.lua).
-- ARGV[6]   owner
-- ARGV[7…]  attempt ids, distinct
--
-- Returns: the ids the owner held (now removed); the others are left out and left alone.

--- @include queue-lib

local owner = ARGV[6]
local out = {}
for i = 7, #ARGV do
  local id = ARGV[i]
  if redis.call('HGET', K_HOLDERS, id) == owner then
    drop(id)
    out[#out + 1] = id
  end
end
prune_types()
return out
