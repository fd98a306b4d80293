--[[
  Create a node record if neither its uuid, its name nor its instance_uuid is taken, and no other
  node holds the console port it fixes (ipmi_terminal_port), atomically.

  KEYS[1] node hash            <prefix>:node:<uuid>
  KEYS[2] nodes sorted set     <prefix>:nodes
  KEYS[3] names hash           <prefix>:node-names
  KEYS[4] instances hash       <prefix>:node-instances (instance_uuid -> node uuid)
  KEYS[5] nodes version        <prefix>:nodes-version
  KEYS[6] node changes zset    <prefix>:node-changes (uuid scored by the nodes version of its last change)
  KEYS[7] console ports hash   <prefix>:console-ports (port -> uuid)
  ARGV[1] uuid
  ARGV[2] name ('' for none)
  ARGV[3] spec JSON (the writable fields plus provision_state, created_at)
  ARGV[4] created_at, ms
  ARGV[5] instance_uuid ('' for none)
  ARGV[6] how many changes node-changes keeps
  ARGV[7] fixed console port (ipmi_terminal_port) or ''
  Output: 'OK' | 'ERR_UUID' (uuid exists) | 'ERR_NAME' (name exists) | 'ERR_INSTANCE' (instance on
          another node) | { 'ERR_PORT', holder uuid }
]]
if redis.call('EXISTS', KEYS[1]) == 1 then return 'ERR_UUID' end
if ARGV[2] ~= '' and redis.call('HEXISTS', KEYS[3], ARGV[2]) == 1 then return 'ERR_NAME' end
if ARGV[5] ~= '' and redis.call('HEXISTS', KEYS[4], ARGV[5]) == 1 then return 'ERR_INSTANCE' end
if ARGV[7] ~= '' then
  local holder = redis.call('HGET', KEYS[7], ARGV[7])
  if holder then return { 'ERR_PORT', holder } end
end
redis.call('HSET', KEYS[1], 'spec', ARGV[3], 'rev', 1, 'crev', 1, 'name', ARGV[2], 'instance', ARGV[5], 'enabled', 0, 'generation', 0, 'updated_at', '')
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[3], ARGV[2], ARGV[1]) end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[4], ARGV[5], ARGV[1]) end
if ARGV[7] ~= '' then
  redis.call('HSET', KEYS[7], ARGV[7], ARGV[1])
  redis.call('HSET', KEYS[1], 'port', ARGV[7])
end
local v = redis.call('INCR', KEYS[5])
redis.call('ZADD', KEYS[6], v, ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[6], 0, -(tonumber(ARGV[6]) + 1))
return 'OK'
