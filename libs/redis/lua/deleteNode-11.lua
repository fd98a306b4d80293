--[[
  Delete a node and everything kept about it; its console port goes back to the free ports.

  KEYS[1] node hash              <prefix>:node:<uuid>
  KEYS[2] nodes sorted set       <prefix>:nodes
  KEYS[3] names hash             <prefix>:node-names
  KEYS[4] console-enabled set    <prefix>:console-enabled
  KEYS[5] console state hash     <prefix>:node:<uuid>:console
  KEYS[6] claim hash             <prefix>:node:<uuid>:claim
  KEYS[7] nodes version          <prefix>:nodes-version
  KEYS[8] instances hash         <prefix>:node-instances
  KEYS[9] node changes zset      <prefix>:node-changes
  KEYS[10] console ports hash    <prefix>:console-ports (port -> uuid)
  KEYS[11] free ports zset       <prefix>:console-ports-free
  ARGV[1] uuid
  ARGV[2] events channel
  ARGV[3] how many changes node-changes keeps
  Output: 1 deleted | 0 not found
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local name = redis.call('HGET', KEYS[1], 'name')
if name and name ~= '' and redis.call('HGET', KEYS[3], name) == ARGV[1] then redis.call('HDEL', KEYS[3], name) end
local instance = redis.call('HGET', KEYS[1], 'instance')
if instance and instance ~= '' and redis.call('HGET', KEYS[8], instance) == ARGV[1] then redis.call('HDEL', KEYS[8], instance) end
local port = redis.call('HGET', KEYS[1], 'port')
if port and redis.call('HGET', KEYS[10], port) == ARGV[1] then
  redis.call('HDEL', KEYS[10], port)
  redis.call('ZADD', KEYS[11], port, port)
end
redis.call('DEL', KEYS[1], KEYS[5], KEYS[6])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
local v = redis.call('INCR', KEYS[7])
redis.call('ZADD', KEYS[9], v, ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[9], 0, -(tonumber(ARGV[3]) + 1))
redis.call('PUBLISH', ARGV[2], 'node:' .. ARGV[1])
return 1
