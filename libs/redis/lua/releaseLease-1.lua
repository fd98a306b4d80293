--[[
  Give a lease up, only if the caller still holds it (token-fenced), so a successor can take it at
  once instead of waiting for the ttl.

  KEYS[1] lease hash               <prefix>:lease:<name>
  ARGV[1] token
  Output: 1 released | 0 not held
]]
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
