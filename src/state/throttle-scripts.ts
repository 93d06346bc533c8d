/**
 * The Lua scripts of the Redis throttle store: each ThrottleStore operation is one script, so it
 * runs atomically however many instances count on the same keys. They follow MemoryThrottleStore
 * step for step (throttle-store.ts). Per counted key, a hash:
 *   f  failure times in the window (JSON array, at most maxFailures)
 *   l  locked until (ms)       n  lockouts in a row       t  last failure (ms)
 *   c  recent credential ids (JSON array, at most RECENT_CREDENTIALS)
 * and a sorted set of the attempts in flight, scored by when their slot lapses, so the slot of an
 * instance that died mid-attempt is given back by itself. Every key gets a TTL on each write:
 * nothing outlives its window, its lockout and the memory of lockouts in a row.
 */
import { RECENT_CREDENTIALS } from '../auth/throttle-store.js'

const helpers = `
local function window(h, now, win)
  local raw = redis.call('HGET', h, 'f')
  local out = {}
  if raw then
    for _, t in ipairs(cjson.decode(raw)) do
      if t > now - win then out[#out + 1] = t end
    end
  end
  return out
end
local function count(h, now, max, win, lockMs, maxLock, ttl)
  local lu = tonumber(redis.call('HGET', h, 'l') or '0')
  if lu > now then return {max, 0} end
  local n = tonumber(redis.call('HGET', h, 'n') or '0')
  local last = tonumber(redis.call('HGET', h, 't') or '0')
  if n > 0 and now - math.max(last, lu) > maxLock then n = 0 end
  local f = window(h, now, win)
  f[#f + 1] = now
  if #f < max then
    redis.call('HSET', h, 'f', cjson.encode(f), 't', now, 'n', n)
    redis.call('PEXPIRE', h, ttl)
    return {#f, 0}
  end
  local ms = math.min(maxLock, lockMs * 2 ^ n)
  redis.call('HSET', h, 'f', '[]', 't', now, 'n', n + 1, 'l', now + ms)
  redis.call('PEXPIRE', h, ttl)
  return {max, ms}
end
`

/**
 * KEYS: hash1, inflight1, hash2, inflight2…  ARGV: now, slotId, slotTtl, then per key maxFailures, window.
 * Returns {1} (slots taken), or {0, index of the refusing key (1-based), ms of lockout left (0: busy)}.
 */
export const RESERVE = `${helpers}
local now = tonumber(ARGV[1])
local n = #KEYS / 2
for i = 1, n do
  local lu = tonumber(redis.call('HGET', KEYS[2 * i - 1], 'l') or '0')
  if lu > now then return {0, i, lu - now} end
end
for i = 1, n do
  local max = tonumber(ARGV[2 + 2 * i])
  local win = tonumber(ARGV[3 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', KEYS[2 * i], '-inf', now)
  if #window(KEYS[2 * i - 1], now, win) + redis.call('ZCARD', KEYS[2 * i]) >= max then return {0, i, 0} end
end
for i = 1, n do
  redis.call('ZADD', KEYS[2 * i], now + tonumber(ARGV[3]), ARGV[2])
  redis.call('PEXPIRE', KEYS[2 * i], ARGV[3])
end
return {1}
`

/**
 * KEYS: hash1, inflight1…  ARGV: now, failed (1/0), maxLockout, slotId, then per key maxFailures, window, lockout, ttl.
 * Returns failures1, lockoutMs1, failures2, lockoutMs2…
 */
export const SETTLE = `${helpers}
local now = tonumber(ARGV[1])
local failed = ARGV[2] == '1'
local maxLock = tonumber(ARGV[3])
local out = {}
for i = 1, #KEYS / 2 do
  local h = KEYS[2 * i - 1]
  local base = 4 * i
  redis.call('ZREM', KEYS[2 * i], ARGV[4])
  local max, win = tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2])
  if failed then
    local r = count(h, now, max, win, tonumber(ARGV[base + 3]), maxLock, tonumber(ARGV[base + 4]))
    out[#out + 1] = r[1]
    out[#out + 1] = r[2]
  else
    out[#out + 1] = #window(h, now, win)
    out[#out + 1] = 0
  end
end
return out
`

/**
 * KEYS: hash.  ARGV: now, maxLockout, maxFailures, window, lockout, ttl, credential id ('' for none).
 * Returns {failures, lockoutMs}, or {-1, 0} when those credentials were already counted.
 */
export const FAIL = `${helpers}
local h = KEYS[1]
local cred = ARGV[7]
if cred ~= '' then
  local raw = redis.call('HGET', h, 'c')
  local seen = raw and cjson.decode(raw) or {}
  for _, c in ipairs(seen) do
    if c == cred then return {-1, 0} end
  end
  seen[#seen + 1] = cred
  if #seen > ${RECENT_CREDENTIALS} then table.remove(seen, 1) end
  redis.call('HSET', h, 'c', cjson.encode(seen))
  redis.call('PEXPIRE', h, ARGV[6])
end
return count(h, tonumber(ARGV[1]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[2]), tonumber(ARGV[6]))
`

/**
 * A judged Digest attempt in one step: RESERVE's checks, then SETTLE's failure, or for a matching
 * response NONCE_COUNT (or, without nc, one use of the nonce). No slot is taken: the attempt is
 * already judged, so admitting it and counting it are one atomic step.
 * KEYS: hash1, inflight1, hash2, inflight2…, then the nonce's key when a nonce count is asked.
 * ARGV: now, failed (1/0), maxLockout, number of counted keys, then per key maxFailures, window,
 * lockout, ttl, then nc as a number (0: none), window size, nonce ttl.
 * Returns {0, index of the refusing key, ms of lockout left (0: busy)}, or
 * {1, fresh (1/0, -1 when no nonce was asked), failures1, lockoutMs1, …} (counts only for a failure).
 */
export const ADMIT = `${helpers}
local now = tonumber(ARGV[1])
local failed = ARGV[2] == '1'
local maxLock = tonumber(ARGV[3])
local n = tonumber(ARGV[4])
for i = 1, n do
  local lu = tonumber(redis.call('HGET', KEYS[2 * i - 1], 'l') or '0')
  if lu > now then return {0, i, lu - now} end
end
for i = 1, n do
  local base = 4 + 4 * (i - 1)
  redis.call('ZREMRANGEBYSCORE', KEYS[2 * i], '-inf', now)
  local inFlight = redis.call('ZCARD', KEYS[2 * i])
  if #window(KEYS[2 * i - 1], now, tonumber(ARGV[base + 2])) + inFlight >= tonumber(ARGV[base + 1]) then
    return {0, i, 0}
  end
end
local out = {1, -1}
if failed then
  for i = 1, n do
    local base = 4 + 4 * (i - 1)
    local r = count(KEYS[2 * i - 1], now, tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2]),
      tonumber(ARGV[base + 3]), maxLock, tonumber(ARGV[base + 4]))
    out[#out + 1] = r[1]
    out[#out + 1] = r[2]
  end
  return out
end
if #KEYS > 2 * n then
  local key = KEYS[2 * n + 1]
  local at = 4 + 4 * n
  local c = tonumber(ARGV[at + 1])
  local w = tonumber(ARGV[at + 2])
  local ttl = ARGV[at + 3]
  if c == 0 then
    out[2] = redis.call('SET', key, '1', 'PX', ttl, 'NX') and 1 or 0
    return out
  end
  local top = redis.call('ZREVRANGE', key, 0, 0, 'WITHSCORES')
  local highest = 0
  if top[2] then highest = tonumber(top[2]) end
  out[2] = 0
  if c > highest - w and redis.call('ZADD', key, 'NX', c, c) == 1 then
    if c > highest then redis.call('ZREMRANGEBYSCORE', key, '-inf', c - w) end
    redis.call('PEXPIRE', key, ttl)
    out[2] = 1
  end
end
return out
`

/**
 * KEYS: the nonce's count set.  ARGV: nc (a number, at least 1), window size, ttl.
 * 1: accepted (first use of that count, not below the window); 0: a replay or too old.
 * The set holds the counts used within the window below the highest (IPsec's anti-replay
 * window, as NonceManager keeps it in process), so it never holds more than the window size.
 */
export const NONCE_COUNT = `
local c = tonumber(ARGV[1])
local w = tonumber(ARGV[2])
local top = redis.call('ZREVRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local highest = 0
if top[2] then highest = tonumber(top[2]) end
if c <= highest - w then return 0 end
if redis.call('ZADD', KEYS[1], 'NX', c, c) == 0 then return 0 end
if c > highest then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', c - w) end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`
