--[[
  A node's console port: sticky, unique cluster-wide, decided here whichever conductor asks. A node
  that holds a port keeps it (across disable/enable, restarts, takeovers and ring changes); a fixed
  ipmi_terminal_port is taken if no other node holds it; otherwise the lowest released port in the
  range, else the next never-used one (a cursor): O(1) per allocation, however many nodes hold ports.

  KEYS[1] node hash                <prefix>:node:<uuid>          (field `port`: the node's port)
  KEYS[2] ports hash               <prefix>:console-ports        (port -> uuid)
  KEYS[3] pool hash                <prefix>:console-port-pool    (start, stop, next)
  KEYS[4] free ports sorted set    <prefix>:console-ports-free   (released ports, score = port)
  KEYS[5] nodes version            <prefix>:nodes-version        (bumped when the node's port changes)
  KEYS[6] node changes zset        <prefix>:node-changes         (the node logged when its port changes)
  ARGV[1] node uuid
  ARGV[2] range start
  ARGV[3] range stop (exclusive)
  ARGV[4] fixed port (the node's ipmi_terminal_port) or ''
  ARGV[5] how many changes node-changes keeps
  Output: { 'OK', port } | { 'CONFLICT', port, holder uuid } (fixed port held by another node)
        | { 'EXHAUSTED', 0 } (every port of the range is held) | { 'ERR_GONE', 0 } (no such node)
]]
local uuid, start, stop, fixed = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if redis.call('EXISTS', KEYS[1]) == 0 then return { 'ERR_GONE', 0 } end
local cur = tonumber(redis.call('HGET', KEYS[1], 'port'))
local function holds(p) return p and redis.call('HGET', KEYS[2], p) == uuid end
-- the node record changed (its `port`): readers that cache node records re-read it
local function logChange()
  local v = redis.call('INCR', KEYS[5])
  redis.call('ZADD', KEYS[6], v, uuid)
  redis.call('ZREMRANGEBYRANK', KEYS[6], 0, -(tonumber(ARGV[5]) + 1))
end
local function release(p)
  if holds(p) then
    redis.call('HDEL', KEYS[2], p)
    redis.call('ZADD', KEYS[4], p, p)
  end
  redis.call('HDEL', KEYS[1], 'port')
  logChange()
end
local function take(p)
  redis.call('HSET', KEYS[2], p, uuid)
  redis.call('HSET', KEYS[1], 'port', p)
  logChange()
  return { 'OK', p }
end

if fixed then
  if cur == fixed and holds(fixed) then return { 'OK', fixed } end
  local holder = redis.call('HGET', KEYS[2], fixed)
  if holder and holder ~= uuid then return { 'CONFLICT', fixed, holder } end
  if cur and cur ~= fixed then release(cur) end
  redis.call('ZREM', KEYS[4], fixed)
  return take(fixed)
end
-- a port from the range (a former fixed port, or one outside a changed range, is given back)
if cur and holds(cur) and cur >= start and cur < stop then return { 'OK', cur } end
if cur then release(cur) end

local pool = redis.call('HMGET', KEYS[3], 'start', 'stop', 'next')
if tonumber(pool[1]) ~= start or tonumber(pool[2]) ~= stop then
  -- a new range: restart the cursor there (held ports are skipped as it passes them)
  redis.call('HSET', KEYS[3], 'start', start, 'stop', stop, 'next', start)
  redis.call('DEL', KEYS[4])
  pool[3] = start
end
while true do
  local popped = redis.call('ZPOPMIN', KEYS[4])
  if #popped == 0 then break end
  local p = tonumber(popped[1])
  if p >= start and p < stop and redis.call('HSETNX', KEYS[2], p, uuid) == 1 then
    redis.call('HSET', KEYS[1], 'port', p)
    logChange()
    return { 'OK', p }
  end
end
local nextPort = tonumber(pool[3])
while nextPort < stop do
  local p = nextPort
  nextPort = nextPort + 1
  if redis.call('HSETNX', KEYS[2], p, uuid) == 1 then
    redis.call('HSET', KEYS[3], 'next', nextPort)
    redis.call('HSET', KEYS[1], 'port', p)
    logChange()
    return { 'OK', p }
  end
end
redis.call('HSET', KEYS[3], 'next', nextPort)
return { 'EXHAUSTED', 0 }
