-- Resolve pending matches whose handshake deadline passed: who accepted goes back to the
-- head of the room (original wait time), who did not is removed with a no-show mark.
-- Any replica may run this; each match is resolved once (atomic).
-- ARGV: prefix, now_ms, limit
-- Returns: flat list {match_id, user, 'requeued'|'noshow', ...}
local now = ARGV[2]
local out = {}
local due = redis.call('ZRANGEBYSCORE', K_PENDING, '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
for _, mid in ipairs(due) do
  local m = redis.call('HMGET', k_match(mid), 'a', 'b', 'joined_a', 'joined_b', 'acc_a', 'acc_b')
  if m[1] then
    for i = 1, 2 do
      local u, joined, accepted = m[i], m[i + 2], m[i + 4] == '1'
      if redis.call('HGET', k_user(u), 'session') == mid then
        if accepted then
          requeue(u, joined, now)
          table.insert(out, mid); table.insert(out, u); table.insert(out, 'requeued')
        else
          remove_user(u)
          redis.call('HINCRBY', k_marks(u), 'noshow', 1)
          table.insert(out, mid); table.insert(out, u); table.insert(out, 'noshow')
        end
      end
    end
  end
  drop_match(mid)
end
return out
