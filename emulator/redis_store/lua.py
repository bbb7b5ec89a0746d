"""The Lua scripts the Redis store runs: each is one round trip and atomic on the server.

Keys (all under a prefix P): P:rec:<api> (hash: id -> the task's record, JSON), P:lc:<api>
(id -> its lifecycles: `duration|polls,...` per step, `;` between the task's own and each
subtask's, empty for none), P:pos:<api> (id -> `index,entered_at,reads_at_entry` per
lifecycle), P:reads:<api> (id -> status reads), P:order:<api> (list: ids in the order made),
P:seq (hash: api -> its id sequence), P:draws (how many tasks drew their randomness),
P:count (tasks held) and P:clock (hash: mode, base, offset, scale).

`advance` in READ is `lifecycle.advance` written again in Lua: the read must be counted and
the task moved on in one atomic step on the server. tests/test_redis_store.py holds the two
to the same answers. Numbers cross as text: %.17g in Lua, repr() in Python,
so a float makes the round trip unchanged.
"""

# The clock as every replica sees it: a virtual clock is base + offset; a real one follows
# Redis's own TIME (one wall clock for all replicas), `scale` times faster from `base`.
CLOCK = """
local function clock_now(P)
  local c = redis.call('HMGET', P .. ':clock', 'mode', 'base', 'offset', 'scale')
  -- A Redis restarted empty (or flushed): the replica sets the store up again and retries.
  if not c[1] then error({err = 'NOCLOCK the store is not set up'}) end
  local base, offset, scale = tonumber(c[2]), tonumber(c[3]), tonumber(c[4])
  if c[1] == 'virtual' then return base + offset, c end
  local t = redis.call('TIME')
  local wall = tonumber(t[1]) + tonumber(t[2]) / 1000000
  if scale == 1 then return wall + offset, c end
  return base + (wall - base) * scale + offset, c
end
local function num(x) return string.format('%.17g', x) end
"""

# KEYS: none (one Redis, not a cluster). ARGV: prefix, api, id, count (1 or 0).
# Returns false for no such task, else {record, positions seen, reads before, now, mode,
# base, offset, scale}. The read is counted and every lifecycle moved on in the same
# script, so concurrent polls through any replica are counted exactly once each.
READ = (
    CLOCK
    + """
local function split(s, sep)
  local out, from = {}, 1
  while true do
    local at = string.find(s, sep, from, true)
    if not at then out[#out + 1] = string.sub(s, from); return out end
    out[#out + 1] = string.sub(s, from, at - 1)
    from = at + 1
  end
end
local function steps_of(text)
  local steps = {}
  for _, step in ipairs(split(text, ',')) do
    local parts = split(step, '|')
    steps[#steps + 1] = {tonumber(parts[1]), tonumber(parts[2])}
  end
  return steps
end
local function advance(steps, idx, ent, ra, now, reads)
  local last = #steps - 1
  while idx < last do
    local s = steps[idx + 1]
    local ends = math.huge
    if s[1] then ends = ent + s[1] end
    if s[2] and reads - ra >= s[2] then ends = math.min(ends, now) end
    if ends > now then break end
    idx, ent, ra = idx + 1, ends, reads
  end
  return idx, ent, ra
end
local P, api, id, count = ARGV[1], ARGV[2], ARGV[3], ARGV[4] == '1'
local rec = redis.call('HGET', P .. ':rec:' .. api, id)
if not rec then return false end
local now, c = clock_now(P)
local reads = tonumber(redis.call('HGET', P .. ':reads:' .. api, id) or '0')
local lcs = split(redis.call('HGET', P .. ':lc:' .. api, id), ';')
local stored = redis.call('HGET', P .. ':pos:' .. api, id)
local poss = split(stored, ';')
local seen, kept = {}, {}
for i, lc in ipairs(lcs) do
  if lc == '' then
    seen[i], kept[i] = '', ''
  else
    local steps = steps_of(lc)
    local p = split(poss[i], ',')
    local idx, ent, ra = advance(steps, tonumber(p[1]), tonumber(p[2]), tonumber(p[3]), now, reads)
    seen[i] = idx .. ',' .. num(ent) .. ',' .. ra
    if count then idx, ent, ra = advance(steps, idx, ent, ra, now, reads + 1) end
    kept[i] = idx .. ',' .. num(ent) .. ',' .. ra
  end
end
local after = table.concat(kept, ';')
if after ~= stored then redis.call('HSET', P .. ':pos:' .. api, id, after) end
if count then redis.call('HINCRBY', P .. ':reads:' .. api, id, 1) end
return {rec, table.concat(seen, ';'), tostring(reads), num(now), c[1], c[2], c[3], c[4]}
"""
)

# ARGV: prefix, api, id, record, lifecycles, positions, replace (1: a transition's
# overwrite, 0: a new task), limit ('' for none). Returns 1 when written, 0 when the id is
# taken (or, replacing, gone), -1 when the store holds `limit` tasks already.
WRITE = """
local P, api, id = ARGV[1], ARGV[2], ARGV[3]
if ARGV[7] ~= '1' then
  if redis.call('HEXISTS', P .. ':rec:' .. api, id) == 1 then return 0 end
  if ARGV[8] ~= '' and tonumber(redis.call('GET', P .. ':count') or '0') >= tonumber(ARGV[8]) then
    return -1
  end
  redis.call('HSET', P .. ':rec:' .. api, id, ARGV[4])
  redis.call('HSET', P .. ':reads:' .. api, id, 0)
  redis.call('RPUSH', P .. ':order:' .. api, id)
  redis.call('INCR', P .. ':count')
else
  if redis.call('HEXISTS', P .. ':rec:' .. api, id) == 0 then return 0 end
  redis.call('HSET', P .. ':rec:' .. api, id, ARGV[4])
end
redis.call('HSET', P .. ':lc:' .. api, id, ARGV[5])
redis.call('HSET', P .. ':pos:' .. api, id, ARGV[6])
return 1
"""

# ARGV: prefix, mode, base, scale, replace (1: reset), seed base, then the APIs. Sets the
# clock and the seed base (only when there are none, unless replacing) and on a reset drops
# every task and sequence. Returns {now, mode, base, offset, scale, seed base}.
SETUP = (
    CLOCK
    + """
local P, replace = ARGV[1], ARGV[5] == '1'
if replace then
  for i = 7, #ARGV do
    local a = ARGV[i]
    redis.call('DEL', P .. ':rec:' .. a, P .. ':lc:' .. a, P .. ':pos:' .. a,
      P .. ':reads:' .. a, P .. ':order:' .. a)
  end
  redis.call('DEL', P .. ':seq', P .. ':draws', P .. ':count', P .. ':notes')
end
if replace or redis.call('EXISTS', P .. ':clock') == 0 then
  local base = ARGV[3]
  if base == '' then
    local t = redis.call('TIME')
    base = string.format('%.17g', tonumber(t[1]) + tonumber(t[2]) / 1000000)
  end
  redis.call('HSET', P .. ':clock', 'mode', ARGV[2], 'base', base, 'offset', '0', 'scale', ARGV[4])
end
if replace or redis.call('EXISTS', P .. ':seedbase') == 0 then
  redis.call('SET', P .. ':seedbase', ARGV[6])
end
local now, c = clock_now(P)
return {num(now), c[1], c[2], c[3], c[4], redis.call('GET', P .. ':seedbase')}
"""
)

# ARGV: prefix, api, count. The last of the next `count` numbers of the API's id sequence
# (a task and its subtasks) and the next draw of randomness, with the clock: {serial, draw,
# now, mode, base, offset, scale}.
IDS = (
    CLOCK
    + """
local P, api = ARGV[1], ARGV[2]
local serial = redis.call('HINCRBY', P .. ':seq', api, tonumber(ARGV[3]))
local draw = redis.call('INCR', P .. ':draws')
local now, c = clock_now(P)
return {serial, draw, num(now), c[1], c[2], c[3], c[4]}
"""
)

# ARGV: prefix, seconds. Moves the shared clock on; returns {now, mode, base, offset, scale}.
ADVANCE = (
    CLOCK
    + """
local P, seconds = ARGV[1], tonumber(ARGV[2])
redis.call('HINCRBYFLOAT', P .. ':clock', 'offset', ARGV[2])
local now, c = clock_now(P)
return {num(now), c[1], c[2], c[3], c[4]}
"""
)

# ARGV: prefix. Returns {now, mode, base, offset, scale}.
NOW = (
    CLOCK
    + """
local now, c = clock_now(ARGV[1])
return {num(now), c[1], c[2], c[3], c[4]}
"""
)
