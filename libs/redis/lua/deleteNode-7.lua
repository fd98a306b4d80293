--[[
  Delete a node and everything kept about it.

  KEYS[1] node hash              <prefix>:node:<uuid>
  KEYS[2] nodes sorted set       <prefix>:nodes
  KEYS[3] names hash             <prefix>:node-names
  KEYS[4] console-enabled set    <prefix>:console-enabled
  KEYS[5] console state hash     <prefix>:node:<uuid>:console
  KEYS[6] claim hash             <prefix>:node:<uuid>:claim
  KEYS[7] nodes version          <prefix>:nodes-version
  ARGV[1] uuid
  ARGV[2] events channel
  Output: 1 deleted | 0 not found
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
-- a damaged record (a key of another type) must still be deletable
local name = redis.call('TYPE', KEYS[1]).ok == 'hash' and redis.call('HGET', KEYS[1], 'name')
if name and name ~= '' and redis.call('HGET', KEYS[3], name) == ARGV[1] then redis.call('HDEL', KEYS[3], name) end
redis.call('DEL', KEYS[1], KEYS[5], KEYS[6])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
redis.call('INCR', KEYS[7])
redis.call('PUBLISH', ARGV[2], 'node:' .. ARGV[1])
return 1
