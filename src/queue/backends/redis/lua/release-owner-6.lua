-- release-owner: removes and returns every item leased by one owner (a worker known to be
-- dead).
--
-- KEYS[1..6], ARGV[1..5]: the queue's keys and key prefixes (see includes/queue-lib.lua).
-- ARGV[6]   owner
--
-- Returns: { id, data, owner, lease end, id, data, owner, lease end, … }.

--- @include queue-lib

local ids = redis.call('SMEMBERS', P_OWNER .. ARGV[6])
return take_leased(ids)
