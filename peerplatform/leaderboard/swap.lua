-- The end of a rebuild, atomically: drop the old leaderboard keys, put the rebuilt ones
-- (written under a temporary prefix) in their place, then replay the live changes journaled
-- since the rebuild began (rating.lua skips what the rebuild already counted).
-- KEYS[1] the rebuild lock, KEYS[2] the journal.
-- ARGV: lock token, temporary prefix, live prefix, prefix of the rated markers (which keep
--       their time to live), number of old keys, the old keys, then the temporary keys.
-- Returns the number of journaled changes replayed.
if redis.call("GET", KEYS[1]) ~= ARGV[1] then
  return redis.error_reply("the rebuild lost its lock (it ran past the lock's time to live)")
end
local journal = {}
for i, entry in ipairs(redis.call("LRANGE", KEYS[2], 0, -1)) do
  journal[i] = cjson.decode(entry)
end
local tmp, live, rated, n_old = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
for i = 6, 5 + n_old do redis.call("UNLINK", ARGV[i]) end
-- keys a journaled change made after the rebuild listed the old ones
for _, entry in ipairs(journal) do
  for _, key in ipairs(entry[1]) do redis.call("UNLINK", key) end
end
for i = 6 + n_old, #ARGV do
  local key = live .. string.sub(ARGV[i], #tmp + 1)
  redis.call("RENAME", ARGV[i], key)
  -- temporary keys expire, in case a rebuild dies half-way
  if string.sub(key, 1, #rated) ~= rated then redis.call("PERSIST", key) end
end
for _, entry in ipairs(journal) do apply_rating(entry[1], entry[2]) end
redis.call("DEL", KEYS[1], KEYS[2])
return #journal
