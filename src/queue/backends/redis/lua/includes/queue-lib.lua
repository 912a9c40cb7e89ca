-- Shared part of every queue script. The loader (scripts.ts) puts this file in place of the
-- line `--- @include queue-lib`, so every script is called the same way:
--
-- KEYS[1] items          hash  attempt id -> "<jobId>:<priority>:<availableAt>:<taskType>"
-- KEYS[2] leased         zset  attempt id, scored by lease end (epoch ms)
-- KEYS[3] holders        hash  attempt id -> owner, for leased items only
-- KEYS[4] leased-counts  hash  task type -> number of leased items
-- KEYS[5] types          set   task types that have items (ready, delayed or leased)
-- KEYS[6] jobs           set   job ids that have items
-- ARGV[1] prefix of ready:<type>    zset  member "<availableAt>:<attemptId>" (both zero-padded
--                                         to 16 digits), score -priority
-- ARGV[2] prefix of delayed:<type>  zset  attempt id, score availableAt
-- ARGV[3] prefix of wake:<type>     list  wake tokens for blocked claimers
-- ARGV[4] prefix of owner:<owner>   set   attempt ids the owner leases
-- ARGV[5] prefix of job:<jobId>     set   attempt ids of the job
-- ARGV[6…] the script's own arguments.
--
-- Numbers: ids and times travel as decimal strings and are stored as they came. Lua 5.1 turns
-- a number back into a string with 14 significant digits, so a number is never concatenated
-- or returned as a string here; redis.call() arguments and integer replies are exact.

local K_ITEMS, K_LEASED, K_HOLDERS, K_LEASED_COUNTS, K_TYPES, K_JOBS =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local P_READY, P_DELAYED, P_WAKE, P_OWNER, P_JOB = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]

-- Most arguments one variadic call carries (Lua's unpack() limit is about 8,000).
local BATCH = 500

-- "<jobId>:<priority>:<availableAt>:<taskType>" -> job id (string), priority (number),
-- availableAt (string), task type (string; may itself contain ':').
local function parse_item(data)
  local job, priority, available_at, task_type =
    string.match(data, '^(%d+):(%-?%d+):(%d+):(.*)$')
  return job, tonumber(priority), available_at, task_type
end

local function pad16(digits)
  return string.rep('0', 16 - #digits) .. digits
end

-- Equal priorities share a score, and Redis orders equal scores by member, so the member
-- orders a task type's ready items by availableAt, then attempt id (as the SQL backend does).
local function ready_member(id, available_at)
  return pad16(available_at) .. ':' .. pad16(id)
end

local function id_of_ready_member(member)
  return string.match(member, ':0*(%d+)$')
end

-- Calls a variadic command (ZREM key m1 m2 …, UNLINK k1 k2 …) in batches.
local function call_batched(command, key, values)
  for i = 1, #values, BATCH do
    local batch = {}
    for j = i, math.min(i + BATCH - 1, #values) do batch[#batch + 1] = values[j] end
    if key then
      redis.call(command, key, unpack(batch))
    else
      redis.call(command, unpack(batch))
    end
  end
end

-- Tops the task type's wake list up to min(n, cap) tokens: one token wakes one blocked claimer.
local function push_tokens(task_type, n, cap)
  local key = P_WAKE .. task_type
  local missing = math.min(n, cap) - redis.call('LLEN', key)
  if missing > 0 then
    local tokens = {}
    for i = 1, missing do tokens[i] = '1' end
    call_batched('RPUSH', key, tokens)
  end
end

-- Records a new item in its job's set and the job and type sets (drop() undoes it). The item's
-- data is already in K_ITEMS; where it waits (ready, delayed, leased) is the caller's business.
local function track_item(id, job, task_type)
  redis.call('SADD', P_JOB .. job, id)
  redis.call('SADD', K_JOBS, job)
  redis.call('SADD', K_TYPES, task_type)
end

-- Leases an item to `owner` until `lease_end` (drop() undoes it). The caller counts the lease
-- in K_LEASED_COUNTS, once per task type.
local function lease_item(id, owner, owner_key, lease_end)
  redis.call('HSET', K_HOLDERS, id, owner)
  redis.call('ZADD', K_LEASED, lease_end, id)
  redis.call('SADD', owner_key, id)
end

-- Task types an item was dropped from during this call; see prune_types().
local touched_types = {}

-- Removes one item wherever it is (ready, delayed or leased). Returns its data, its owner and
-- its lease end (false for an item that was not leased), or nil when the id is not queued.
local function drop(id)
  local data = redis.call('HGET', K_ITEMS, id)
  if not data then return nil end
  local job, _, available_at, task_type = parse_item(data)
  local owner = redis.call('HGET', K_HOLDERS, id)
  local lease_end = false
  if owner then
    lease_end = redis.call('ZSCORE', K_LEASED, id)
    redis.call('ZREM', K_LEASED, id)
    redis.call('HDEL', K_HOLDERS, id)
    redis.call('SREM', P_OWNER .. owner, id)
    redis.call('HINCRBY', K_LEASED_COUNTS, task_type, -1)
  elseif redis.call('ZREM', P_READY .. task_type, ready_member(id, available_at)) == 0 then
    redis.call('ZREM', P_DELAYED .. task_type, id)
  end
  redis.call('HDEL', K_ITEMS, id)
  redis.call('SREM', P_JOB .. job, id)
  if redis.call('EXISTS', P_JOB .. job) == 0 then redis.call('SREM', K_JOBS, job) end
  touched_types[task_type] = true
  return data, owner, lease_end
end

-- Settles the task types items were dropped from: a type with no item left is forgotten
-- (counts() leaves it out) with its wake list; otherwise its wake list is cut down to one
-- token per ready item (one if it has only delayed items, so a blocked claimer learns when
-- the first falls due). Tokens for items that are gone would only wake claimers for nothing.
local function prune_types()
  for task_type in pairs(touched_types) do
    local wake_key = P_WAKE .. task_type
    local leased = tonumber(redis.call('HGET', K_LEASED_COUNTS, task_type) or '0')
    if leased <= 0 then redis.call('HDEL', K_LEASED_COUNTS, task_type) end
    local keep = redis.call('ZCARD', P_READY .. task_type)
    local delayed = redis.call('EXISTS', P_DELAYED .. task_type) == 1
    if keep == 0 and delayed then keep = 1 end
    if keep == 0 and leased <= 0 then redis.call('SREM', K_TYPES, task_type) end
    if keep == 0 then
      redis.call('DEL', wake_key)
    elseif redis.call('LLEN', wake_key) > keep then
      redis.call('LTRIM', wake_key, 0, keep - 1)
    end
  end
  touched_types = {}
end

-- Drops leased items (reclaimed or released) and settles their types. Returns
-- { id, data, owner, lease end, … } for the ids that were queued.
local function take_leased(ids)
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
end
