-- Refresh a learner's presence while they wait or hold a pending match.
-- ARGV: prefix, username, presence_ttl_s
-- Returns: the learner's state ('' when they are nowhere)
local u = ARGV[2]
local state = redis.call('HGET', k_user(u), 'state')
if not state then
  return ''
end
if state == 'waiting' or state == 'matched' then
  redis.call('SET', k_presence(u), '1', 'EX', ARGV[3])
end
return state
