--[[
  Remove a member if it still is the given incarnation (graceful leave, or a crash confirmed by
  the failure detector). Its claims stay behind and become takeable: their holder is no longer live.

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
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[3])
redis.call('PUBLISH', ARGV[3], 'member:' .. ARGV[1] .. ':' .. ARGV[4])
return 1
