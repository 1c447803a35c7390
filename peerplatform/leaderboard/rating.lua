-- One rating counted on its ratee's leaderboard entries. Idempotent: K[12] remembers the
-- version (updated_at in ms) and the scores counted of this rating, so a rating applied twice,
-- or an older version after a newer one, changes nothing; an edit counts the difference.
-- K[12] lives until the rating's edit window is long over (A[12] ms): later, nothing changes
-- the rating any more. Shared by apply.lua (live changes) and swap.lua (a rebuild's replay).
-- K[1]      pp:lb:stats:<user>
-- K[2..5]   pp:lb:board:<overall|communication|collaboration|problem_solving>
-- K[6..9]   pp:lb:cohort:<cohort>:<same boards>   (ignored when A[2] == "")
-- K[10]     pp:lb:cohortstats:<cohort>
-- K[11]     pp:lb:cohorts
-- K[12]     pp:lb:rated:<rating id>
-- A: user, cohort, rating id, version, communication, collaboration, problem_solving,
--    prior_mean, prior_weight, cohort_min_ratings, cohort_prior_weight, K[12]'s time to live
-- Returns {n, overall, communication, collaboration, problem_solving, cohort_score|"",
--          counted members of the cohort} as strings.
local CRITERIA = {"communication", "collaboration", "problem_solving"}

local function apply_rating(K, A)
  local user, cohort, version = A[1], A[2], tonumber(A[4])
  local new = {tonumber(A[5]), tonumber(A[6]), tonumber(A[7])}
  local m, C = tonumber(A[8]), tonumber(A[9])
  local min_n, Cc = tonumber(A[10]), tonumber(A[11])
  local function bayes(sum, n) return (C * m + sum) / (C + n) end

  local dn, d = 1, {new[1], new[2], new[3]}
  local counted = redis.call("GET", K[12])
  if counted then
    local v, c1, c2, c3 = string.match(counted, "^(%d+):(%d+):(%d+):(%d+)$")
    dn = 0
    if tonumber(v) > version then
      d = {0, 0, 0}  -- a newer version of this rating is already counted
    else
      d = {new[1] - tonumber(c1), new[2] - tonumber(c2), new[3] - tonumber(c3)}
    end
  end
  local changed = dn ~= 0 or d[1] ~= 0 or d[2] ~= 0 or d[3] ~= 0

  local n = tonumber(redis.call("HGET", K[1], "n") or "0")
  local sums, total = {}, 0
  for i = 1, 3 do
    sums[i] = tonumber(redis.call("HGET", K[1], "s:" .. CRITERIA[i]) or "0")
    total = total + sums[i]
  end
  if changed then
    redis.call("SET", K[12], A[4] .. ":" .. A[5] .. ":" .. A[6] .. ":" .. A[7], "PX", A[12])
    local n_old, old_overall = n, bayes(total / 3, n)
    n = redis.call("HINCRBY", K[1], "n", dn)
    total = 0
    for i = 1, 3 do
      sums[i] = redis.call("HINCRBY", K[1], "s:" .. CRITERIA[i], d[i])
      total = total + sums[i]
    end
    redis.call("HSET", K[1], "cohort", cohort)
    local overall = bayes(total / 3, n)
    local scores = {overall, bayes(sums[1], n), bayes(sums[2], n), bayes(sums[3], n)}
    for i = 1, 4 do
      redis.call("ZADD", K[1 + i], scores[i], user)
      if cohort ~= "" then redis.call("ZADD", K[5 + i], scores[i], user) end
    end
    if cohort ~= "" then
      -- members count toward their cohort's total once they have min_n ratings
      if n_old >= min_n then
        redis.call("HINCRBYFLOAT", K[10], "sum", -old_overall)
        redis.call("HINCRBY", K[10], "n", -1)
      end
      if n >= min_n then
        redis.call("HINCRBYFLOAT", K[10], "sum", overall)
        redis.call("HINCRBY", K[10], "n", 1)
      end
    end
  end

  local cohort_score, cohort_counted = "", 0
  if cohort ~= "" then
    local cn = tonumber(redis.call("HGET", K[10], "n") or "0")
    cohort_counted = cn
    if cn > 0 then
      local cs = (Cc * m + tonumber(redis.call("HGET", K[10], "sum"))) / (Cc + cn)
      if changed then redis.call("ZADD", K[11], cs, cohort) end
      cohort_score = tostring(cs)
    elseif changed then
      redis.call("ZREM", K[11], cohort)
    end
  end
  return {tostring(n), tostring(bayes(total / 3, n)), tostring(bayes(sums[1], n)),
          tostring(bayes(sums[2], n)), tostring(bayes(sums[3], n)), cohort_score,
          tostring(cohort_counted)}
end
