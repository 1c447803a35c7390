-- Apply one rating change to a learner's leaderboard entries, atomically.
-- KEYS[1]      pp:lb:stats:<user>
-- KEYS[2..5]   pp:lb:board:<overall|communication|collaboration|problem_solving>
-- KEYS[6..9]   pp:lb:cohort:<cohort>:<same boards>   (ignored when ARGV[2] == "")
-- KEYS[10]     pp:lb:cohortstats:<cohort>
-- KEYS[11]     pp:lb:cohorts
-- ARGV: user, cohort, dn, d_communication, d_collaboration, d_problem_solving,
--       prior_mean, prior_weight, cohort_min_ratings, cohort_prior_weight
-- Returns {n, overall, communication, collaboration, problem_solving, cohort_score|"",
--          counted members of the cohort} as strings.
local user, cohort = ARGV[1], ARGV[2]
local dn = tonumber(ARGV[3])
local m, C = tonumber(ARGV[7]), tonumber(ARGV[8])
local min_n, Cc = tonumber(ARGV[9]), tonumber(ARGV[10])
local crit = {"communication", "collaboration", "problem_solving"}

local function bayes(sum, n) return (C * m + sum) / (C + n) end

local n_old = tonumber(redis.call("HGET", KEYS[1], "n") or "0")
local old_total = 0
for i = 1, 3 do old_total = old_total + tonumber(redis.call("HGET", KEYS[1], "s:" .. crit[i]) or "0") end
local old_overall = bayes(old_total / 3, n_old)

local n = redis.call("HINCRBY", KEYS[1], "n", dn)
local sums, total = {}, 0
for i = 1, 3 do
  sums[i] = redis.call("HINCRBY", KEYS[1], "s:" .. crit[i], tonumber(ARGV[3 + i]))
  total = total + sums[i]
end
redis.call("HSET", KEYS[1], "cohort", cohort)
local scores = {bayes(total / 3, n), bayes(sums[1], n), bayes(sums[2], n), bayes(sums[3], n)}
for i = 1, 4 do
  redis.call("ZADD", KEYS[1 + i], scores[i], user)
  if cohort ~= "" then redis.call("ZADD", KEYS[5 + i], scores[i], user) end
end

local cohort_score, cohort_counted = "", 0
if cohort ~= "" then
  -- members count toward their cohort's total once they have min_n ratings
  if n_old >= min_n then
    redis.call("HINCRBYFLOAT", KEYS[10], "sum", -old_overall)
    redis.call("HINCRBY", KEYS[10], "n", -1)
  end
  if n >= min_n then
    redis.call("HINCRBYFLOAT", KEYS[10], "sum", scores[1])
    redis.call("HINCRBY", KEYS[10], "n", 1)
  end
  local cn = tonumber(redis.call("HGET", KEYS[10], "n") or "0")
  cohort_counted = cn
  if cn > 0 then
    local csum = tonumber(redis.call("HGET", KEYS[10], "sum"))
    local cs = (Cc * m + csum) / (Cc + cn)
    redis.call("ZADD", KEYS[11], cs, cohort)
    cohort_score = tostring(cs)
  else
    redis.call("ZREM", KEYS[11], cohort)
  end
end
return {tostring(n), tostring(scores[1]), tostring(scores[2]), tostring(scores[3]),
        tostring(scores[4]), cohort_score, tostring(cohort_counted)}
