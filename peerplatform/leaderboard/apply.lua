-- A live rating change (rating.lua, same KEYS[1..12] and ARGV), atomically.
-- KEYS[13]  the rebuild lock, KEYS[14] the rebuild journal.
-- While a rebuild runs, the change is journaled too: it may come after the rebuild read
-- MongoDB, and the rebuild replays the journal onto the keys it puts in place.
if redis.call("EXISTS", KEYS[13]) == 1 then
  local k = {}
  for i = 1, 12 do k[i] = KEYS[i] end
  redis.call("RPUSH", KEYS[14], cjson.encode({k, ARGV}))
  local ttl = redis.call("PTTL", KEYS[13])
  if ttl > 0 then redis.call("PEXPIRE", KEYS[14], ttl) end
end
return apply_rating(KEYS, ARGV)
