-- One match attempt, O(log N + k): anchor on the longest-waiting learners, look at their
-- nearest rating neighbours, take the best partner whose rating gap fits BOTH windows.
-- Atomic: both learners move from 'waiting' to 'matched' (handshake) or 'session'
-- (auto-accept), or nobody moves. Learners whose presence expired are removed on the way.
--
-- ARGV: prefix, match_id, now_ms, anchors, neighbours, window_start, window_growth_per_s,
--       window_cap, anyone_after_s (0 = never), cohort_mode (anyone|prefer|only),
--       auto_accept (0|1), handshake_ms, first_anchor ('' = none: a learner who just joined
--       is tried first), offset (anchors are the waiting room's entries offset..offset+anchors-1
--       by wait time: 0 = the longest-waiting; the sweep also visits further ones in turn,
--       so learners nobody fits at the head cannot starve the rest)
-- Window of a learner who waited t s: min(window_start + growth * t, cap); from
-- anyone_after_s on, unbounded. Candidates are ranked by (other cohort, last partner, gap).
-- Returns: {match_id, a, b, state, gap, window_a, window_b} or {}.
local mid, now = ARGV[2], tonumber(ARGV[3])
local n_anchors, n_near = tonumber(ARGV[4]), tonumber(ARGV[5])
local w0, growth, cap = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local anyone_after, cohort_mode = tonumber(ARGV[9]), ARGV[10]
local auto, handshake_ms = ARGV[11] == '1', tonumber(ARGV[12])
local first_anchor, offset = ARGV[13] or '', tonumber(ARGV[14] or '0')
local FIELDS = {'state', 'joined', 'rating', 'cohort', 'track', 'duration', 'difficulty'}

local function window(joined)
  local waited = (now - joined) / 1000
  if waited < 0 then waited = 0 end
  if anyone_after > 0 and waited >= anyone_after then return math.huge end
  return math.min(w0 + growth * waited, cap)
end

-- A learner who can be matched now, or nil (ghosts are cleaned up here).
local function load(u)
  local v = redis.call('HMGET', k_user(u), unpack(FIELDS))
  if v[1] ~= 'waiting' or redis.call('EXISTS', k_presence(u)) == 0 then
    if v[1] ~= 'matched' and v[1] ~= 'session' then
      remove_user(u)
    else  -- stale index entry of someone already matched: drop the entry only
      redis.call('ZREM', K_WAITING, u)
      redis.call('ZREM', K_RATING, u)
    end
    return nil
  end
  local joined = tonumber(v[2])
  return {name = u, joined = joined, rating = tonumber(v[3]), cohort = v[4] or '',
          track = v[5] or 'any', duration = v[6] or '0', difficulty = v[7] or 'any',
          window = window(joined)}
end

local function either_any(x, y, any)
  return x == y or x == any or y == any
end

local function compatible(a, b)
  return either_any(a.track, b.track, 'any') and either_any(a.duration, b.duration, '0')
    and either_any(a.difficulty, b.difficulty, 'any')
    and (cohort_mode ~= 'only' or a.cohort == b.cohort)
end

local function bound(x)
  if x == math.huge then return '+inf' elseif x == -math.huge then return '-inf' end
  return tostring(x)
end

local function best_partner(a)
  local last = redis.call('GET', k_last(a.name))
  local lo = redis.call('ZREVRANGEBYSCORE', K_RATING, bound(a.rating), bound(a.rating - a.window),
                        'LIMIT', 0, n_near)
  local hi = redis.call('ZRANGEBYSCORE', K_RATING, bound(a.rating), bound(a.rating + a.window),
                        'LIMIT', 0, n_near)
  local best, best_key, seen = nil, nil, {[a.name] = true}
  for _, list in ipairs({lo, hi}) do
    for _, u in ipairs(list) do
      if not seen[u] then
        seen[u] = true
        local b = load(u)
        if b and compatible(a, b) then
          local gap = math.abs(a.rating - b.rating)
          if gap <= math.min(a.window, b.window) then
            local other_cohort = (cohort_mode == 'prefer' and a.cohort ~= b.cohort) and 1 or 0
            local repeat_partner = (u == last) and 1 or 0
            local key = other_cohort * 1e9 + repeat_partner * 1e8 + gap
            if best_key == nil or key < best_key then
              best, best_key = b, key
            end
          end
        end
      end
    end
  end
  return best
end

local anchors = redis.call('ZRANGE', K_WAITING, offset, offset + n_anchors - 1)
if first_anchor ~= '' then table.insert(anchors, 1, first_anchor) end
for _, name in ipairs(anchors) do
  local a = load(name)
  if a then
    local b = best_partner(a)
    if b then
      local state = auto and 'session' or 'matched'
      for _, u in ipairs({a.name, b.name}) do
        redis.call('ZREM', K_WAITING, u)
        redis.call('ZREM', K_RATING, u)
        redis.call('HSET', k_user(u), 'state', state, 'session', mid, 'since', now)
      end
      if auto then
        redis.call('SET', k_last(a.name), b.name, 'EX', 604800)
        redis.call('SET', k_last(b.name), a.name, 'EX', 604800)
      else
        local deadline = now + handshake_ms
        redis.call('HSET', k_match(mid), 'a', a.name, 'b', b.name, 'joined_a', a.joined,
                   'joined_b', b.joined, 'acc_a', '0', 'acc_b', '0', 'deadline', deadline,
                   'created', now)
        redis.call('ZADD', K_PENDING, deadline, mid)
      end
      local function w(x) if x == math.huge then return '-1' end return tostring(x) end
      return {mid, a.name, b.name, state, tostring(math.abs(a.rating - b.rating)),
              w(a.window), w(b.window)}
    end
  end
end
return {}
