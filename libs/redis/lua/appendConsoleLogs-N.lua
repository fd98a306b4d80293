--[[
  Append one batch of console output to each of several nodes' console logs: a conductor's brokers
  flush their batches of a 50 ms window together, and one call carries them all instead of one XADD
  round trip per node (the client spent about 30 µs per XADD command; bench/broker-scale.ts). Each
  append stands alone: one that fails (a key of another type) leaves an error in its slot, the
  others are written. Any number of keys (the file's `-N`): the caller passes the count.

  KEYS[i]     console log stream of a node   <prefix>:node:<uuid>:console-log
  ARGV[4i-3]  trim strategy, approximate (~): MINID or MAXLEN
  ARGV[4i-2]  its threshold: an entry id (MINID) or an entry count (MAXLEN)
  ARGV[4i-1]  o: absolute offset of the batch's first byte
  ARGV[4i]    d: the bytes
  Output: per key, in order, the new entry's id, or an error reply
]]
local out = {}
for i = 1, #KEYS do
  local a = 4 * (i - 1)
  out[i] = redis.pcall('XADD', KEYS[i], ARGV[a + 1], '~', ARGV[a + 2], '*', 'o', ARGV[a + 3], 'd', ARGV[a + 4])
end
return out
