--[[
  Write a node's observed console state, fenced by its claim: only the conductor holding the claim
  with this very epoch may write, so a paused or partitioned former owner can never overwrite what
  the new owner reports.

  KEYS[1] console state hash     <prefix>:node:<uuid>:console
  KEYS[2] claim hash             <prefix>:node:<uuid>:claim
  ARGV[1] member id
  ARGV[2] incarnation
  ARGV[3] claim epoch
  ARGV[4..] field, value, field, value, ... (strings; '' stands for null)
  Output: 1 written | 0 fenced off (claim not held with that epoch)
]]
local claim = redis.call('HMGET', KEYS[2], 'member', 'incarnation', 'epoch')
if claim[1] ~= ARGV[1] or claim[2] ~= ARGV[2] or claim[3] ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
return 1
