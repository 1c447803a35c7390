-- Put a learner in the waiting room, unless they are already matched or in a session.
-- A learner already waiting keeps their place (their original join time).
-- ARGV: prefix, username, now_ms, presence_ttl_s, prefs_json, rating, cohort, track,
--       duration_minutes ('0' = any), difficulty
-- Returns: {"waiting"} or {"busy", state, session}
local u, now = ARGV[2], ARGV[3]
local state = redis.call('HGET', k_user(u), 'state')
if state == 'matched' or state == 'session' then
  return {'busy', state, redis.call('HGET', k_user(u), 'session') or ''}
end
local joined = now
if state == 'waiting' then
  joined = redis.call('HGET', k_user(u), 'joined') or now
end
redis.call('ZADD', K_WAITING, joined, u)
redis.call('ZADD', K_RATING, ARGV[6], u)
redis.call('DEL', k_user(u))
redis.call('HSET', k_user(u), 'state', 'waiting', 'since', now, 'joined', joined,
           'rating', ARGV[6], 'cohort', ARGV[7], 'track', ARGV[8], 'duration', ARGV[9],
           'difficulty', ARGV[10])
redis.call('SET', k_presence(u), '1', 'EX', ARGV[4])
redis.call('DEL', k_prefs(u))
redis.call('HSET', k_prefs(u), 'json', ARGV[5])
return {'waiting'}
