-- Take a learner out of the waiting room (only if they are still waiting).
-- KEYS: waiting, user_state, presence, prefs
-- ARGV: username
-- Returns: 1 if they left, 0 if they were not waiting
if redis.call('HGET', KEYS[2], 'state') ~= 'waiting' then
  return 0
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
return 1
