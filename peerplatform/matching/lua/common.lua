-- Shared by every waiting-room script (prepended to each by waiting_room.py).
-- Key names are built from the prefix in ARGV (see keys.py): scripts touch the state of
-- users they only learn about inside the script (rating neighbours, the partner of a match).
local P = ARGV[1]
local function k_user(u) return P .. 'user:' .. u end
local function k_presence(u) return P .. 'presence:' .. u end
local function k_prefs(u) return P .. 'prefs:' .. u end
local function k_match(m) return P .. 'match:' .. m end
local function k_last(u) return P .. 'last:' .. u end
local function k_marks(u) return P .. 'marks:' .. u end
local K_WAITING, K_RATING, K_PENDING = P .. 'waiting', P .. 'rating', P .. 'pending'

-- Out of the room entirely (left, gone silent, declined, no-show).
local function remove_user(u)
  redis.call('ZREM', K_WAITING, u)
  redis.call('ZREM', K_RATING, u)
  redis.call('DEL', k_user(u), k_presence(u), k_prefs(u))
end

-- Back in the room with the original wait time (their partner failed the handshake).
local function requeue(u, joined, now)
  local rating = redis.call('HGET', k_user(u), 'rating') or '1500'
  redis.call('ZADD', K_WAITING, joined, u)
  redis.call('ZADD', K_RATING, rating, u)
  redis.call('HSET', k_user(u), 'state', 'waiting', 'since', now, 'joined', joined)
  redis.call('HDEL', k_user(u), 'session')
end

-- A pending match that is over, whatever the reason.
local function drop_match(m)
  redis.call('DEL', k_match(m))
  redis.call('ZREM', K_PENDING, m)
end
