-- Put a learner in the waiting room, unless they are already matched or in a session.
-- KEYS: waiting, user_state, presence, prefs
-- ARGV: username, now_ms, presence_ttl_s, prefs_json
-- Returns: {"waiting"} or {"busy", state, session}
local state = redis.call('HGET', KEYS[2], 'state')
if state == 'matched' or state == 'session' then
  return {'busy', state, redis.call('HGET', KEYS[2], 'session') or ''}
end
redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], 'state', 'waiting', 'since', ARGV[2])
redis.call('SET', KEYS[3], '1', 'EX', ARGV[3])
redis.call('DEL', KEYS[4])
redis.call('HSET', KEYS[4], 'json', ARGV[4])
return {'waiting'}
