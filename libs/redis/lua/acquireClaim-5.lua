--[[
  Take (or confirm) a node's claim: the right to run its console. Compare-and-set with epochs:
  a claim held by a live incarnation is never taken; one held by a dead incarnation is taken with
  a new, higher epoch — unless takeovers are on hold (right after a Redis restart or failover,
  when heartbeats may look stale only because Redis was away, and a failover may have lost the
  newest claims: a free claim is not taken either, so the conductors still running those consoles
  can re-assert them first, reassertClaim-5.lua).
  A new epoch is never below the caller's floor (the highest epoch it has seen): a failover that
  lost the newest INCRs of the counter cannot hand out an epoch again.

  KEYS[1] claim hash               <prefix>:node:<uuid>:claim  (member, incarnation, epoch)
  KEYS[2] members sorted set       <prefix>:members
  KEYS[3] incarnations hash        <prefix>:member-incarnations
  KEYS[4] claim epoch counter      <prefix>:claim-epoch
  KEYS[5] takeover hold            <prefix>:takeover-hold
  ARGV[1] member id (the caller)
  ARGV[2] incarnation (the caller)
  ARGV[3] heartbeat timeout, ms
  ARGV[4] epoch floor: the highest claim epoch the caller has seen (0 = none)
  Output: { status, epoch, previous holder }
    'HELD'   the caller already holds it (epoch unchanged)
    'TAKEN'  the caller took it (new epoch); previous holder '' when it was free
    'BUSY'   a live incarnation holds it
    'HOLD'   it is free or its holder looks dead, but takeovers are on hold
    'NOT_MEMBER' the caller itself is not a live member (it must not run consoles)
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local me, inc, timeout, floor = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]) or 0

local function live(id, incarnation)
  if redis.call('HGET', KEYS[3], id) ~= incarnation then return false end
  local score = redis.call('ZSCORE', KEYS[2], id)
  return score ~= false and score ~= nil and now - tonumber(score) <= timeout
end

if not live(me, inc) then return { 'NOT_MEMBER', 0, '' } end

local c = redis.call('HMGET', KEYS[1], 'member', 'incarnation', 'epoch')
if c[1] == me and c[2] == inc then return { 'HELD', tonumber(c[3]), me } end
-- Held by an earlier incarnation of the caller's own member id: that process is gone for sure
-- (one id has one live incarnation), so no hold applies.
if c[1] and c[1] ~= me and live(c[1], c[2]) then return { 'BUSY', tonumber(c[3]), c[1] } end
if c[1] ~= me and redis.call('EXISTS', KEYS[5]) == 1 then return { 'HOLD', tonumber(c[3]) or 0, c[1] or '' } end
local epoch = redis.call('INCR', KEYS[4])
if epoch <= floor then
  epoch = floor + 1
  redis.call('SET', KEYS[4], epoch)
end
redis.call('HSET', KEYS[1], 'member', me, 'incarnation', inc, 'epoch', epoch, 'since', now)
return { 'TAKEN', epoch, c[1] or '' }
