--[[
  Register or renew a conductor's membership, stamped with Redis's clock (never a host clock).

  KEYS[1] members sorted set       <prefix>:members        (member id -> last heartbeat, ms)
  KEYS[2] incarnations hash        <prefix>:member-incarnations (member id -> incarnation)
  KEYS[3] member hash              <prefix>:member:<id>    (details)
  KEYS[4] cluster incarnation      <prefix>:cluster-incarnation
  KEYS[5] drained set              <prefix>:drained
  ARGV[1] member id
  ARGV[2] incarnation (fresh per process start)
  ARGV[3] heartbeat timeout, ms
  ARGV[4] cluster incarnation to create when the key is missing (a new, empty Redis)
  ARGV[5] events channel
  ARGV[6] CLIENT ID of the caller's heartbeat connection ('' unknown): lets an API call see at once
          that a conductor's connection is gone (its process died) before the failure detector acts
  ARGV[7..] member detail fields: field, value, ... (written when the incarnation is new here)
  Output: { status, redis_now_ms, cluster_incarnation, joined (0|1), drained (0|1) }
    status 'OK', or 'ERR_DUPLICATE' when another live process already uses this member id.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id, inc, timeout = ARGV[1], ARGV[2], tonumber(ARGV[3])

local cur = redis.call('HGET', KEYS[2], id)
if cur and cur ~= inc then
  local score = redis.call('ZSCORE', KEYS[1], id)
  if score and now - tonumber(score) <= timeout then
    return { 'ERR_DUPLICATE', now, '', 0, 0 }
  end
end

local ci = redis.call('GET', KEYS[4])
if not ci then
  ci = ARGV[4]
  redis.call('SET', KEYS[4], ci)
end

local joined = 0
if cur ~= inc or redis.call('EXISTS', KEYS[3]) == 0 then
  -- new here (or listed as crashed by the failure detector): replace whatever was kept about it
  joined = 1
  redis.call('DEL', KEYS[3])
  if #ARGV >= 7 then redis.call('HSET', KEYS[3], unpack(ARGV, 7)) end
  redis.call('HSET', KEYS[3], 'incarnation', inc, 'joined_at', now)
  redis.call('HSET', KEYS[2], id, inc)
end
redis.call('ZADD', KEYS[1], now, id)
redis.call('HSET', KEYS[3], 'heartbeat_at', now, 'hb_client', ARGV[6])
if joined == 1 then redis.call('PUBLISH', ARGV[5], 'member:' .. id .. ':joined') end
return { 'OK', now, ci, joined, redis.call('SISMEMBER', KEYS[5], id) }
