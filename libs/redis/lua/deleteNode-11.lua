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
-- a damaged record (a key of another type) must still be deletable, and free what it held
local function holdersOf(index)
  local out, cursor = {}, '0'
  repeat
    local r = redis.call('HSCAN', index, cursor, 'COUNT', 1000)
    cursor = r[1]
    for i = 1, #r[2], 2 do if r[2][i + 1] == ARGV[1] then out[#out + 1] = r[2][i] end end
  until cursor == '0'
  return out
end
local isHash = redis.call('TYPE', KEYS[1]).ok == 'hash'
local function field(f, index)
  if isHash then
    local v = redis.call('HGET', KEYS[1], f)
    return (v and v ~= '') and { v } or {}
  end
  return holdersOf(index)
end
for _, name in ipairs(field('name', KEYS[3])) do
  if redis.call('HGET', KEYS[3], name) == ARGV[1] then redis.call('HDEL', KEYS[3], name) end
end
for _, instance in ipairs(field('instance', KEYS[8])) do
  if redis.call('HGET', KEYS[8], instance) == ARGV[1] then redis.call('HDEL', KEYS[8], instance) end
end
for _, port in ipairs(field('port', KEYS[10])) do
  if redis.call('HGET', KEYS[10], port) == ARGV[1] then
    redis.call('HDEL', KEYS[10], port)
    redis.call('ZADD', KEYS[11], port, port)
  end
end
redis.call('DEL', KEYS[1], KEYS[5], KEYS[6])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
local v = redis.call('INCR', KEYS[7])
redis.call('ZADD', KEYS[9], v, ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[9], 0, -(tonumber(ARGV[3]) + 1))
redis.call('PUBLISH', ARGV[2], 'node:' .. ARGV[1])
return 1
