-- remove-items: removes items by attempt id, ready, delayed or leased.
--
-- KEYS[1..6], ARGV[1..5]: the queue's keys and key prefixes (see includes/queue-lib.lua).
-- ARGV[6…]  attempt ids
--
-- Returns: the number of items removed (unknown ids are ignored).

--- @include queue-lib

local removed = 0
for i = 6, #ARGV do
  if drop(ARGV[i]) then removed = removed + 1 end
end
prune_types()
return removed
