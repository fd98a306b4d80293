--[[
  Publish who is attached to a node's console, only while the caller's incarnation holds the node's
  claim (a conductor that lost the node must not overwrite its new owner's figures). The count goes
  into the console status hash (the node view's driver_internal_info.console_viewers), stamped with
  the incarnation that counted; the list into its own key (`solgate console who`).

  KEYS[1] console status hash      <prefix>:node:<uuid>:console
  KEYS[2] claim hash               <prefix>:node:<uuid>:claim
  KEYS[3] viewers string           <prefix>:node:<uuid>:console-viewers
  ARGV[1] incarnation
  ARGV[2] viewer count
  ARGV[3] viewers JSON
  Output: 1 published | 0 not the claim holder
]]
if redis.call('HGET', KEYS[2], 'incarnation') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'viewers', ARGV[2], 'viewers_by', ARGV[1])
redis.call('SET', KEYS[3], ARGV[3])
return 1
