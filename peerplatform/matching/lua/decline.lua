-- A learner declines (or leaves) their pending match: they are out of the room; the partner
-- goes back to the head of the room with their original wait time.
-- ARGV: prefix, username, match_id, now_ms, mark ('declined' | '' for leaving)
-- Returns: {'declined', partner} | {'gone'}
local u, mid, now = ARGV[2], ARGV[3], ARGV[4]
local m = redis.call('HMGET', k_match(mid), 'a', 'b', 'joined_a', 'joined_b')
local a, b = m[1], m[2]
if not a or (u ~= a and u ~= b) then
  return {'gone'}
end
local partner, partner_joined = b, m[4]
if u == b then partner, partner_joined = a, m[3] end
remove_user(u)
if ARGV[5] ~= '' then redis.call('HINCRBY', k_marks(u), ARGV[5], 1) end
requeue(partner, partner_joined, now)
drop_match(mid)
return {'declined', partner}
