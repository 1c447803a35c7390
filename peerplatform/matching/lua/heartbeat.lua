-- Refresh a waiting learner's presence.
-- KEYS: user_state, presence
-- ARGV: presence_ttl_s
-- Returns: the learner's state ('' when they are nowhere)
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  return ''
end
if state == 'waiting' then
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[1])
end
return state
