--[[
  Replace a node's spec if nobody changed it since it was read (compare-and-set on rev), keeping the
  name and instance_uuid indexes unique. A new fixed console port (ipmi_terminal_port) is taken for
  the node if no other node holds it, and the port it held before is given back; removing the fixed
  port gives it back (the next start allocates one from the range).

  KEYS[1] node hash            <prefix>:node:<uuid>
  KEYS[2] names hash           <prefix>:node-names
  KEYS[3] nodes version        <prefix>:nodes-version (bumped: reconcilers re-read only after a change)
  KEYS[4] instances hash       <prefix>:node-instances (instance_uuid -> node uuid)
  KEYS[5] node changes zset    <prefix>:node-changes (uuid scored by the nodes version of its last change)
  KEYS[6] console ports hash   <prefix>:console-ports (port -> uuid)
  KEYS[7] free ports zset      <prefix>:console-ports-free
  ARGV[1] uuid
  ARGV[2] expected rev
  ARGV[3] new spec JSON
  ARGV[4] new name ('' for none)
  ARGV[5] updated_at, ms
  ARGV[6] events channel (a "node:<uuid>" message is published on success)
  ARGV[7] new instance_uuid ('' for none)
  ARGV[8] '1' when a field a console is built from changed (bumps crev, which restarts a running console)
  ARGV[9] how many changes node-changes keeps
  ARGV[10] new fixed console port or ''
  ARGV[11] fixed console port before this update or ''
  Output: new rev | 'ERR_GONE' | 'ERR_REV' (changed concurrently) | 'ERR_NAME' (name taken)
          | 'ERR_INSTANCE' (instance_uuid on another node) | { 'ERR_PORT', holder uuid } (the new fixed
          port is held by another node)
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return 'ERR_GONE' end
local uuid = ARGV[1]
local rev = tonumber(redis.call('HGET', KEYS[1], 'rev'))
if rev ~= tonumber(ARGV[2]) then return 'ERR_REV' end
local newFixed, oldFixed = ARGV[10], ARGV[11]
local cur = redis.call('HGET', KEYS[1], 'port')
if newFixed ~= '' and newFixed ~= cur then
  local holder = redis.call('HGET', KEYS[6], newFixed)
  if holder and holder ~= uuid then return { 'ERR_PORT', holder } end
end
local old = redis.call('HGET', KEYS[1], 'name')
if ARGV[4] ~= old and ARGV[4] ~= '' then
  local holder = redis.call('HGET', KEYS[2], ARGV[4])
  if holder and holder ~= uuid then return 'ERR_NAME' end
end
local oldInstance = redis.call('HGET', KEYS[1], 'instance') or ''
if ARGV[7] ~= oldInstance and ARGV[7] ~= '' then
  local holder = redis.call('HGET', KEYS[4], ARGV[7])
  if holder and holder ~= uuid then return 'ERR_INSTANCE' end
end
if ARGV[4] ~= old then
  if old and old ~= '' then redis.call('HDEL', KEYS[2], old) end
  if ARGV[4] ~= '' then redis.call('HSET', KEYS[2], ARGV[4], uuid) end
end
if ARGV[7] ~= oldInstance then
  if oldInstance ~= '' and redis.call('HGET', KEYS[4], oldInstance) == uuid then redis.call('HDEL', KEYS[4], oldInstance) end
  if ARGV[7] ~= '' then redis.call('HSET', KEYS[4], ARGV[7], uuid) end
end
local function release(p)
  if p and redis.call('HGET', KEYS[6], p) == uuid then
    redis.call('HDEL', KEYS[6], p)
    redis.call('ZADD', KEYS[7], p, p)
  end
  redis.call('HDEL', KEYS[1], 'port')
end
if newFixed ~= '' and newFixed ~= cur then
  release(cur)
  redis.call('ZREM', KEYS[7], newFixed)
  redis.call('HSET', KEYS[6], newFixed, uuid)
  redis.call('HSET', KEYS[1], 'port', newFixed)
elseif newFixed == '' and oldFixed ~= '' and cur == oldFixed then
  release(cur)
end
-- Nodes written before crev existed: their console stamp was rev, so start counting from it.
local crev = tonumber(redis.call('HGET', KEYS[1], 'crev') or rev)
if ARGV[8] == '1' then crev = crev + 1 end
redis.call('HSET', KEYS[1], 'spec', ARGV[3], 'rev', rev + 1, 'crev', crev, 'name', ARGV[4], 'instance', ARGV[7], 'updated_at', ARGV[5])
local v = redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[5], v, uuid)
redis.call('ZREMRANGEBYRANK', KEYS[5], 0, -(tonumber(ARGV[9]) + 1))
redis.call('PUBLISH', ARGV[6], 'node:' .. uuid)
return rev + 1
