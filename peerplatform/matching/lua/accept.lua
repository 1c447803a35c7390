-- A learner accepts their pending match; the second acceptance confirms it.
-- ARGV: prefix, username, match_id, now_ms
-- Returns: {'confirmed', a, b} | {'accepted', partner} | {'gone'} (no such pending match
-- for this learner: expired, declined, or never theirs) | {'expired'}
local u, mid, now = ARGV[2], ARGV[3], tonumber(ARGV[4])
local m = redis.call('HMGET', k_match(mid), 'a', 'b', 'acc_a', 'acc_b', 'deadline')
local a, b = m[1], m[2]
if not a or (u ~= a and u ~= b) then
  return {'gone'}
end
if now > tonumber(m[5]) then
  return {'expired'}  -- the sweep resolves it (the partner may have accepted in time)
end
local acc_a, acc_b = m[3] == '1' or u == a, m[4] == '1' or u == b
if not (acc_a and acc_b) then
  redis.call('HSET', k_match(mid), u == a and 'acc_a' or 'acc_b', '1')
  return {'accepted', u == a and b or a}
end
for _, x in ipairs({a, b}) do
  redis.call('HSET', k_user(x), 'state', 'session', 'session', mid, 'since', now)
end
redis.call('SET', k_last(a), b, 'EX', 604800)
redis.call('SET', k_last(b), a, 'EX', 604800)
drop_match(mid)
return {'confirmed', a, b}
