-- The pick rule: pair the two longest-waiting learners who are still present.
-- Atomic: one script call moves both learners from 'waiting' to 'session' or nobody.
-- Learners whose presence expired are removed on the way (nobody is matched with a ghost).
-- KEYS: waiting
-- ARGV: session_id, now_ms, scan_limit, key_prefix
-- Returns: {user_a, user_b} or {} when fewer than two present learners wait.
local prefix = ARGV[4]
local picked = {}
local candidates = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[3]) - 1)
for _, user in ipairs(candidates) do
  if redis.call('EXISTS', prefix .. 'presence:' .. user) == 1 then
    table.insert(picked, user)
    if #picked == 2 then break end
  else
    redis.call('ZREM', KEYS[1], user)
    redis.call('DEL', prefix .. 'user:' .. user, prefix .. 'prefs:' .. user)
  end
end
if #picked < 2 then
  return {}
end
for _, user in ipairs(picked) do
  redis.call('ZREM', KEYS[1], user)
  redis.call('DEL', prefix .. 'presence:' .. user)
  redis.call('HSET', prefix .. 'user:' .. user, 'state', 'session', 'session', ARGV[1], 'since', ARGV[2])
end
return picked
