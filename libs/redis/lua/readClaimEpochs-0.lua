--[[
  The epochs of the claims one conductor incarnation holds, for many nodes in one call: the
  reconciler checks every console's claim on every pass, and one HGETALL per console made that
  the largest Redis cost of a 1,000-console takeover. Read-only.

  No KEYS (their number varies with the caller's consoles; solgate runs on one Redis, with or
  without Sentinel, never Redis Cluster):
  ARGV[1] member id
  ARGV[2] incarnation
  ARGV[3..] claim hashes   <prefix>:node:<uuid>:claim
  Output: per claim, its epoch when held by exactly this member and incarnation, else 0;
  -1 when the key holds another Redis type (the caller reports it).
]]
local out = {}
for i = 3, #ARGV do
  local c = redis.pcall('HMGET', ARGV[i], 'member', 'incarnation', 'epoch')
  if c.err then
    out[#out + 1] = -1
  elseif c[1] == ARGV[1] and c[2] == ARGV[2] then
    out[#out + 1] = tonumber(c[3]) or 0
  else
    out[#out + 1] = 0
  end
end
return out
