--[[
  Publish the parameters every conductor of a cluster must share (ring vnodes, heartbeat timeout,
  console port range), or check a conductor's own values against them. The first conductor writes
  them; later ones must match. The published values may be replaced only when no other conductor
  is alive by them (a whole cluster restarted with new settings) and they were not written moments
  ago by another conductor (two conductors starting together with different values).

  KEYS[1] settings hash            <prefix>:cluster-settings
  KEYS[2] members sorted set       <prefix>:members
  KEYS[3] incarnations hash        <prefix>:member-incarnations
  ARGV[1] caller's member id
  ARGV[2] ring_vnodes
  ARGV[3] heartbeat_timeout_ms
  ARGV[4] port_range ("START:STOP", STOP exclusive)
  Output: { status, ring_vnodes, heartbeat_timeout_ms, port_range, written_by }: the values in force
    'PUBLISHED' none were published: the caller's are now
    'SAME'      the caller's values are the published ones
    'REPLACED'  the published values differed and nobody else was alive by them: the caller's are now
    'MISMATCH'  the published values differ and other conductors run with them (nothing written)
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local me, vnodes, timeout, range = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

local cur = redis.call('HMGET', KEYS[1], 'ring_vnodes', 'heartbeat_timeout_ms', 'port_range', 'written_by', 'written_at')
local function write(status)
  redis.call('HSET', KEYS[1], 'ring_vnodes', vnodes, 'heartbeat_timeout_ms', timeout, 'port_range', range, 'written_by', me, 'written_at', now)
  return { status, vnodes, timeout, range, me }
end
if not cur[1] then return write('PUBLISHED') end
if cur[1] == vnodes and cur[2] == timeout and cur[3] == range then
  return { 'SAME', cur[1], cur[2], cur[3], cur[4] or '' }
end

local curTimeout = tonumber(cur[2]) or tonumber(timeout)
local others = false
local flat = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
for i = 1, #flat, 2 do
  local id, score = flat[i], tonumber(flat[i + 1])
  if id ~= me and now - score <= curTimeout and redis.call('HEXISTS', KEYS[3], id) == 1 then others = true end
end
local recent = cur[4] ~= me and now - (tonumber(cur[5]) or 0) <= curTimeout
if others or recent then return { 'MISMATCH', cur[1], cur[2], cur[3], cur[4] or '' } end
return write('REPLACED')
