-- clear-queue: removes every item and every key of the queue.
--
-- KEYS[1..6], ARGV[1..5]: the queue's keys and key prefixes (see includes/queue-lib.lua).
--
-- Returns: the number of items removed.
-- Keys go with UNLINK, which frees their memory in the background, so clearing a large queue
-- does not stall the server. Wake lists go too: claimers blocked on them keep waiting.

--- @include queue-lib

local removed = redis.call('HLEN', K_ITEMS)
local doomed = {}
for _, task_type in ipairs(redis.call('SMEMBERS', K_TYPES)) do
  doomed[#doomed + 1] = P_READY .. task_type
  doomed[#doomed + 1] = P_DELAYED .. task_type
  doomed[#doomed + 1] = P_WAKE .. task_type
end
for _, job in ipairs(redis.call('SMEMBERS', K_JOBS)) do
  doomed[#doomed + 1] = P_JOB .. job
end
local owners = {}
for _, owner in ipairs(redis.call('HVALS', K_HOLDERS)) do
  if not owners[owner] then
    owners[owner] = true
    doomed[#doomed + 1] = P_OWNER .. owner
  end
end
for i = 1, 6 do doomed[#doomed + 1] = KEYS[i] end
call_batched('UNLINK', nil, doomed)
return removed
