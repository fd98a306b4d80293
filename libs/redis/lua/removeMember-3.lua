--[[
  Take a member out of the cluster if it still is the given incarnation: a graceful leave, or a
  crash confirmed by the failure detector. Either way it stops being live at once (its incarnation
  is no longer registered), so its claims become takeable. A member that left is forgotten; a
  crashed one stays listed (state 'dead', last heartbeat kept) until it rejoins, as Ironic keeps a
  dead conductor in its list with alive=false.

  KEYS[1] members sorted set       <prefix>:members
  KEYS[2] incarnations hash        <prefix>:member-incarnations
  KEYS[3] member hash              <prefix>:member:<id>
  ARGV[1] member id
  ARGV[2] incarnation
  ARGV[3] events channel
  ARGV[4] reason ('left' | 'dead')
  Output: 1 removed | 0 not that incarnation (already gone or restarted)
]]
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
if ARGV[4] == 'dead' then
  local t = redis.call('TIME')
  redis.call('HSET', KEYS[3], 'state', 'dead', 'departed_at', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), 'hb_client', '')
else
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('DEL', KEYS[3])
end
redis.call('PUBLISH', ARGV[3], 'member:' .. ARGV[1] .. ':' .. ARGV[4])
return 1
