--[[
  Re-assert a claim that Redis lost: after a failover (or a restart from an older copy) the dataset
  can be older than what the conductors acted on, so the claim of a console that is running may read
  free, or as an older holder with a lower epoch. Epochs only grow, so either is proof that Redis
  went back in time, and the conductor running the console under the higher epoch writes its claim
  back (and lifts the epoch counter above it) instead of stopping a healthy console.
  Anything else (a higher epoch, a node that no longer exists, a caller that is not a live member)
  means the claim is really lost.

  KEYS[1] claim hash               <prefix>:node:<uuid>:claim  (member, incarnation, epoch)
  KEYS[2] members sorted set       <prefix>:members
  KEYS[3] incarnations hash        <prefix>:member-incarnations
  KEYS[4] claim epoch counter      <prefix>:claim-epoch
  KEYS[5] node record              <prefix>:node:<uuid>
  ARGV[1] member id (the caller)
  ARGV[2] incarnation (the caller)
  ARGV[3] the epoch the caller's running console holds
  ARGV[4] heartbeat timeout, ms
  Output: { status, epoch in the claim now }
    'HELD'        the claim is the caller's with that epoch (nothing to do)
    'REASSERTED'  the claim read older (or free, with the counter below the epoch): written back
    'LOST'        the claim is someone's with an equal or higher epoch, or free with the counter
                  at or above the epoch (released or taken the normal way), or the node is gone
    'NOT_MEMBER'  the caller is not a live member (it must run no console)
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local me, inc, epoch, timeout = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])

if redis.call('HGET', KEYS[3], me) ~= inc then return { 'NOT_MEMBER', 0 } end
local score = redis.call('ZSCORE', KEYS[2], me)
if not score or now - tonumber(score) > timeout then return { 'NOT_MEMBER', 0 } end
if redis.call('EXISTS', KEYS[5]) == 0 then return { 'LOST', 0 } end

local c = redis.call('HMGET', KEYS[1], 'member', 'incarnation', 'epoch')
local current = tonumber(c[3]) or 0
if c[1] == me and c[2] == inc and current == epoch then return { 'HELD', epoch } end
local counter = tonumber(redis.call('GET', KEYS[4])) or 0
if c[1] then
  if current >= epoch then return { 'LOST', current } end
elseif counter >= epoch then
  return { 'LOST', 0 }
end
redis.call('HSET', KEYS[1], 'member', me, 'incarnation', inc, 'epoch', epoch, 'since', now)
if counter < epoch then redis.call('SET', KEYS[4], epoch) end
return { 'REASSERTED', epoch }
