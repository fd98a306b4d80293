--[[
  Replace a node's spec if nobody changed it since it was read (compare-and-set on rev).

  KEYS[1] node hash            <prefix>:node:<uuid>
  KEYS[2] names hash           <prefix>:node-names
  KEYS[3] nodes version        <prefix>:nodes-version (bumped: reconcilers re-read only after a change)
  ARGV[1] uuid
  ARGV[2] expected rev
  ARGV[3] new spec JSON
  ARGV[4] new name ('' for none)
  ARGV[5] updated_at, ms
  ARGV[6] events channel (a "node:<uuid>" message is published on success)
  Output: new rev | 'ERR_GONE' | 'ERR_REV' (changed concurrently) | 'ERR_NAME' (name taken)
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return 'ERR_GONE' end
local rev = tonumber(redis.call('HGET', KEYS[1], 'rev'))
if rev ~= tonumber(ARGV[2]) then return 'ERR_REV' end
local old = redis.call('HGET', KEYS[1], 'name')
if ARGV[4] ~= old then
  if ARGV[4] ~= '' then
    local holder = redis.call('HGET', KEYS[2], ARGV[4])
    if holder and holder ~= ARGV[1] then return 'ERR_NAME' end
  end
  if old and old ~= '' then redis.call('HDEL', KEYS[2], old) end
  if ARGV[4] ~= '' then redis.call('HSET', KEYS[2], ARGV[4], ARGV[1]) end
end
redis.call('HSET', KEYS[1], 'spec', ARGV[3], 'rev', rev + 1, 'name', ARGV[4], 'updated_at', ARGV[5])
redis.call('INCR', KEYS[3])
redis.call('PUBLISH', ARGV[6], 'node:' .. ARGV[1])
return rev + 1
