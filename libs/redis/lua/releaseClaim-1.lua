--[[
  Give a claim up, only if the caller still holds it with that epoch, and nudge the cluster so the
  node's next owner starts its console at once.

  KEYS[1] claim hash               <prefix>:node:<uuid>:claim
  ARGV[1] member id
  ARGV[2] incarnation
  ARGV[3] epoch
  ARGV[4] events channel
  ARGV[5] node uuid
  Output: 1 released | 0 not held
]]
local c = redis.call('HMGET', KEYS[1], 'member', 'incarnation', 'epoch')
if c[1] ~= ARGV[1] or c[2] ~= ARGV[2] or c[3] ~= ARGV[3] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[4], 'node:' .. ARGV[5])
return 1
