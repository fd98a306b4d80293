--[[
  Write a node's observed console state, fenced by its claim: only the conductor holding the claim
  with this very epoch may write, so a paused or partitioned former owner can never overwrite what
  the new owner reports. Optionally gives the claim up in the same step (a console stopped for good:
  "stopped" is written and the next owner may start at once).

  KEYS[1] console state hash     <prefix>:node:<uuid>:console
  KEYS[2] claim hash             <prefix>:node:<uuid>:claim
  ARGV[1] member id
  ARGV[2] incarnation
  ARGV[3] claim epoch
  ARGV[4] '1' release the claim after writing | '0' keep it
  ARGV[5] events channel
  ARGV[6] node uuid
  ARGV[7..] field, value, field, value, ... (strings; '' stands for null)
  Output: 1 written | 0 fenced off (claim not held with that epoch)
  Publishes "console:<uuid>" (API calls waiting for the owner), or "node:<uuid>" when the claim was
  released (that also nudges the node's next owner).
]]
local claim = redis.call('HMGET', KEYS[2], 'member', 'incarnation', 'epoch')
if claim[1] ~= ARGV[1] or claim[2] ~= ARGV[2] or claim[3] ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 7))
if ARGV[4] == '1' then
  redis.call('DEL', KEYS[2])
  redis.call('PUBLISH', ARGV[5], 'node:' .. ARGV[6])
else
  redis.call('PUBLISH', ARGV[5], 'console:' .. ARGV[6])
end
return 1
