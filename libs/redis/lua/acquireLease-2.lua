--[[
  Take or renew a named lease (one holder at a time, e.g. the conductor that runs the periodic Ironic
  sync). Token-fenced: only the holder's token renews it; a free or expired lease is taken with a new,
  higher epoch (the fencing number a holder reports and logs).

  KEYS[1] lease hash               <prefix>:lease:<name>  (token, holder, epoch; expires with the lease)
  KEYS[2] epoch counter            <prefix>:lease:<name>:epoch
  ARGV[1] token (random per holder process)
  ARGV[2] holder (member id, for operators)
  ARGV[3] ttl, ms
  Output: { status, epoch, holder }
    'RENEWED' the caller holds it; ttl reset
    'TAKEN'   the caller took it (new epoch)
    'BUSY'    someone else holds it (their epoch and holder)
]]
local cur = redis.call('HMGET', KEYS[1], 'token', 'holder', 'epoch')
if cur[1] == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return { 'RENEWED', cur[3], cur[2] }
end
if cur[1] then
  return { 'BUSY', cur[3], cur[2] }
end
local epoch = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'token', ARGV[1], 'holder', ARGV[2], 'epoch', epoch)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return { 'TAKEN', tostring(epoch), ARGV[2] }
