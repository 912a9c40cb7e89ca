-- reclaim-leases: removes and returns leased items whose lease ended before `now`, oldest
-- lease end first.
--
-- KEYS[1..6], ARGV[1..5]: the queue's keys and key prefixes (see includes/queue-lib.lua).
-- ARGV[6]   now, epoch ms (the caller's clock, or the time the caller asks about)
-- ARGV[7]   most items to reclaim; -1 for all
--
-- Returns: { id, data, owner, lease end, id, data, owner, lease end, … }.

--- @include queue-lib

local ids = redis.call('ZRANGEBYSCORE', K_LEASED, '-inf', '(' .. ARGV[6], 'LIMIT', 0, ARGV[7])
return take_leased(ids)
