-- Free learners from a session that ended or failed (only if they are still in that session).
-- KEYS: user_state of each learner
-- ARGV: prefix, session_id
local freed = 0
for _, key in ipairs(KEYS) do
  if redis.call('HGET', key, 'session') == ARGV[2] and redis.call('HGET', key, 'state') == 'session' then
    redis.call('DEL', key)
    freed = freed + 1
  end
end
return freed
