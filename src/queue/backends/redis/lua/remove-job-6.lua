-- remove-job: removes every item of one job, ready, delayed or leased.
--
-- KEYS[1..6], ARGV[1..5]: the queue's keys and key prefixes (see includes/queue-lib.lua).
-- ARGV[6]   job id
--
-- Returns: the number of items removed.

--- @include queue-lib

local removed = 0
for _, id in ipairs(redis.call('SMEMBERS', P_JOB .. ARGV[6])) do
  if drop(id) then removed = removed + 1 end
end
prune_types()
return removed
