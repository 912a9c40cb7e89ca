-- release-owner: removes and returns every item leased by one owner (a worker known to be
-- dead).
--
-- KEYS[1..6], ARGV[1..5]: the queue's keys and key prefixes (see includes/queue-lib.lua).
-- ARGV[6]   owner
--
-- Returns: { id, data, owner, lease end, id, data, owner, lease end, … }.

--- @include queue-lib

local ids = redis.call('SMEMBERS', P_OWNER .. ARGV[6])
local out = {}
for _, id in ipairs(ids) do
  local data, owner, lease_end = drop(id)
  if data then
    out[#out + 1] = id
    out[#out + 1] = data
    out[#out + 1] = owner
    out[#out + 1] = lease_end
  end
end
prune_types()
return out
