--[[
  Record the user's console intent. A disabled->enabled transition bumps the console generation,
  so the owner restarts the console even if it never saw the disabled state (Nova's reset).
  Setting the state a node already has changes nothing (Ironic answers 202 and does nothing).

  KEYS[1] node hash              <prefix>:node:<uuid>
  KEYS[2] console-enabled set    <prefix>:console-enabled
  KEYS[3] nodes version          <prefix>:nodes-version
  KEYS[4] node changes zset      <prefix>:node-changes (uuid scored by the nodes version of its last change)
  ARGV[1] uuid
  ARGV[2] '1' enable | '0' disable
  ARGV[3] updated_at, ms
  ARGV[4] events channel
  ARGV[5] how many changes node-changes keeps
  Output: { changed (0|1), generation } | 'ERR_GONE' | 'ERR_TYPE' (the key is not a hash: a damaged record)
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return 'ERR_GONE' end
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then return 'ERR_TYPE' end
local cur = redis.call('HGET', KEYS[1], 'enabled')
local gen = tonumber(redis.call('HGET', KEYS[1], 'generation') or '0')
if cur == ARGV[2] then return { 0, gen } end
if ARGV[2] == '1' then
  gen = redis.call('HINCRBY', KEYS[1], 'generation', 1)
  redis.call('SADD', KEYS[2], ARGV[1])
else
  redis.call('SREM', KEYS[2], ARGV[1])
end
redis.call('HSET', KEYS[1], 'enabled', ARGV[2], 'updated_at', ARGV[3])
local v = redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[4], v, ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[4], 0, -(tonumber(ARGV[5]) + 1))
redis.call('PUBLISH', ARGV[4], 'node:' .. ARGV[1])
return { 1, gen }
