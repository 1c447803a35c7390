-- Take a learner out of the waiting room (only if they are still waiting).
-- ARGV: prefix, username
-- Returns: {1} if they left, {0} if they were not waiting, {0, match_id} when they hold a
-- pending match (the caller declines it on their behalf)
local u = ARGV[2]
local state = redis.call('HGET', k_user(u), 'state')
if state == 'matched' then
  return {0, redis.call('HGET', k_user(u), 'session') or ''}
end
if state ~= 'waiting' then
  return {0}
end
remove_user(u)
return {1}
