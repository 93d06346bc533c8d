/**
 * StateHost's bounds and ClusterState's timeouts, over Channels joined in process (each message
 * is copied through JSON on the next turn, as Node's IPC pipe would) with a clock the test sets.
 * The two-process behaviour is test/integration/cluster-state.test.ts.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { Channel, type IpcEndpoint } from '../../src/cluster/channel.js'
import { SLOT_TTL_MS, StateHost } from '../../src/cluster/state-host.js'
import { ClusterState } from '../../src/cluster/state-client.js'
import { TOPIC } from '../../src/cluster/state-protocol.js'
import type { CountedKey } from '../../src/auth/throttle-store.js'
import type { SessionRecord } from '../../src/session/session-store.js'
import { createLogger } from '../../src/log.js'

const log = createLogger('silent')
const NONCE_TTL_MS = 10_000
/** NonceManager keeps counts this much past the TTL (clock skew between instances). */
const SKEW_MS = 5000

function endpoint(deliver: (m: unknown) => void): IpcEndpoint & EventEmitter {
  return Object.assign(new EventEmitter(), {
    send(message: unknown, _h?: undefined, _o?: undefined, cb?: (err: Error | null) => void): boolean {
      const copy = JSON.parse(JSON.stringify(message)) as unknown
      setImmediate(() => deliver(copy))
      cb?.(null)
      return true
    },
  })
}

/** A primary's end and a worker's end of one pipe. */
function pipe(): { primary: Channel; worker: Channel } {
  const ends: Array<IpcEndpoint & EventEmitter> = []
  ends.push(endpoint((m) => ends[1]!.emit('message', m)))
  ends.push(endpoint((m) => ends[0]!.emit('message', m)))
  return { primary: new Channel(ends[0]!), worker: new Channel(ends[1]!) }
}

function hostAt(clock: { now: number }, opts: { maxNonces?: number; maxEntries?: number; maxSessions?: number } = {}) {
  return new StateHost({
    log,
    throttle: { maxEntries: opts.maxEntries ?? 1000, maxLockoutMs: 3_600_000 },
    nonceTtlMs: NONCE_TTL_MS,
    ...(opts.maxNonces !== undefined ? { maxNonces: opts.maxNonces } : {}),
    ...(opts.maxSessions !== undefined ? { maxSessions: opts.maxSessions } : {}),
    now: () => clock.now,
  })
}

/** A nonce in the documented layout (issue time, 12 random bytes, 16-byte tag); the host checks no tag. */
function nonceIssuedAt(ms: number): string {
  const raw = randomBytes(36)
  raw.writeBigUInt64BE(BigInt(ms), 0)
  return raw.toString('base64url')
}

const use = (worker: Channel, nonce: string, nc = '00000001') => worker.request<boolean>(TOPIC.nonce, { nonce, nc })

const key = (id: string, maxFailures = 2): CountedKey => ({
  scope: 'address',
  id,
  rule: { maxFailures, windowMs: 600_000, lockoutMs: 60_000 },
})

test('a nonce count is accepted once, and the windows of nonces past digest.nonceTtl + skew are dropped; a dropped nonce is refused, never accepted again', async () => {
  const clock = { now: 1_000_000 }
  const host = hostAt(clock)
  const { primary, worker } = pipe()
  host.attach(primary)
  const old = Array.from({ length: 10 }, () => nonceIssuedAt(clock.now))
  for (const n of old) assert.equal(await use(worker, n), true)
  assert.equal(await use(worker, old[0]!), false, 'the same count again is a replay')
  assert.equal(host.trackedNonces, 10)
  clock.now += NONCE_TTL_MS + SKEW_MS + 1
  assert.equal(await use(worker, nonceIssuedAt(clock.now)), true)
  assert.equal(host.trackedNonces, 1, 'the expired windows are gone')
  assert.equal(await use(worker, old[1]!, '00000002'), false, 'an expired nonce is refused')
  host.close()
})

test('at most maxNonces windows are held; the nonces evicted for room are refused from then on', async () => {
  const clock = { now: 2_000_000 }
  const host = hostAt(clock, { maxNonces: 5 })
  const { primary, worker } = pipe()
  host.attach(primary)
  const nonces: string[] = []
  for (let i = 0; i < 8; i++) {
    clock.now += 1
    nonces.push(nonceIssuedAt(clock.now))
    assert.equal(await use(worker, nonces[i]!), true)
  }
  assert.equal(host.trackedNonces, 5)
  assert.equal(await use(worker, nonces[0]!), false, 'an evicted nonce is not a fresh one')
  assert.equal(await use(worker, nonces[7]!, '00000002'), true, 'a held nonce takes its next count')
  host.close()
})

test('a slot never settled lapses after SLOT_TTL_MS, giving its budget back', async () => {
  const clock = { now: 3_000_000 }
  const host = hostAt(clock)
  const { primary, worker } = pipe()
  host.attach(primary)
  const k = [key('192.0.2.1')]
  assert.equal((await worker.request<{ ok: boolean }>(TOPIC.reserve, { keys: k, now: clock.now })).ok, true)
  assert.equal((await worker.request<{ ok: boolean }>(TOPIC.reserve, { keys: k, now: clock.now })).ok, true)
  assert.deepEqual(await worker.request(TOPIC.reserve, { keys: k, now: clock.now }), {
    ok: false,
    scope: 'address',
    lockedMs: 0,
  })
  assert.equal(host.slotsInFlight, 2)
  clock.now += SLOT_TTL_MS + 1
  assert.equal((await worker.request<{ ok: boolean }>(TOPIC.reserve, { keys: k, now: clock.now })).ok, true)
  assert.equal(host.slotsInFlight, 1)
  host.close()
})

test("a detached worker's slots go back at once; its later requests are refused", async () => {
  const clock = { now: 4_000_000 }
  const host = hostAt(clock)
  const one = pipe()
  const two = pipe()
  const detach = host.attach(one.primary)
  host.attach(two.primary)
  const k = [key('192.0.2.2')]
  for (let i = 0; i < 2; i++)
    assert.equal((await one.worker.request<{ ok: boolean }>(TOPIC.reserve, { keys: k, now: clock.now })).ok, true)
  assert.equal((await two.worker.request<{ ok: boolean }>(TOPIC.reserve, { keys: k, now: clock.now })).ok, false)
  detach()
  assert.equal(host.slotsInFlight, 0)
  assert.equal((await two.worker.request<{ ok: boolean }>(TOPIC.reserve, { keys: k, now: clock.now })).ok, true)
  await assert.rejects(one.worker.request(TOPIC.reserve, { keys: k, now: clock.now }), /detached/)
  host.close()
})

test('the throttle counts, the slots and the sessions stay within their caps', async () => {
  const clock = { now: 5_000_000 }
  const host = hostAt(clock, { maxEntries: 3, maxSessions: 2 })
  const { primary, worker } = pipe()
  host.attach(primary)
  for (let i = 0; i < 6; i++) await worker.request(TOPIC.fail, { key: key(`192.0.2.${i}`), now: clock.now })
  assert.equal(host.throttle.size.addresses, 3)
  for (let i = 0; i < 6; i++) await worker.request(TOPIC.reserve, { keys: [key(`198.51.100.${i}`)], now: clock.now })
  assert.equal(host.slotsInFlight, 3)
  const record = (k: string): SessionRecord => ({
    key: k,
    user: 'alice',
    groups: [],
    provider: 'p',
    scope: 's',
    createdAt: clock.now,
    lastSeenAt: clock.now,
    expiresAt: clock.now + 60_000,
    idleMs: 60_000,
    checkedAt: clock.now,
    credential: 'sealed',
  })
  for (const k of ['k1', 'k2', 'k3']) await worker.request(TOPIC.session, { op: 'create', record: record(k) })
  assert.equal(host.sessions.size, 2)
  assert.equal(await worker.request(TOPIC.session, { op: 'get', key: 'k1', now: clock.now }), null)
  assert.equal(
    ((await worker.request(TOPIC.session, { op: 'get', key: 'k3', now: clock.now })) as SessionRecord).user,
    'alice',
  )
  await assert.rejects(
    worker.request(TOPIC.session, { op: 'create', record: { key: 'k4' } }),
    (e: Error & { code?: string }) => e.code === 'GH_ERR_IPC_PROTOCOL',
  )
  assert.equal(host.sessions.size, 2, 'a malformed record is not stored')
  host.close()
})

test("an event is passed on to every other worker, not back to its sender; a lockout the host's counts start reaches the others", async () => {
  const clock = { now: 6_000_000 }
  const host = hostAt(clock)
  const ends = [pipe(), pipe(), pipe()]
  for (const e of ends) host.attach(e.primary)
  const got: unknown[][] = [[], [], []]
  ends.forEach((e, i) => e.worker.on(TOPIC.event, (b) => got[i]!.push(b)))
  ends[0]!.worker.send(TOPIC.event, { kind: 'flush', user: 'alice' })
  const k = key('192.0.2.9', 1)
  const count = await ends[1]!.worker.request(TOPIC.fail, { key: k, now: clock.now })
  assert.deepEqual(count, { failures: 1, lockoutMs: 60_000 })
  await new Promise((r) => setTimeout(r, 20))
  const lockout = { kind: 'lockout', scope: 'address', id: '192.0.2.9', until: clock.now + 60_000 }
  assert.deepEqual(got[0], [lockout])
  assert.deepEqual(got[1], [{ kind: 'flush', user: 'alice' }])
  assert.deepEqual(got[2], [{ kind: 'flush', user: 'alice' }, lockout])
  host.close()
})

test('a primary that does not answer: the Digest check fails with 503 GH_ERR_STATE_UNAVAILABLE after the timeout, throttling counts in the worker, `up` turns false', async () => {
  // A pipe whose other end never answers. The request timers are unref'd: this keeps the test's loop alive.
  const alive = setInterval(() => {}, 1000)
  const silent = new Channel(Object.assign(new EventEmitter(), { send: () => true }))
  const state = new ClusterState({ channel: silent, log, timeoutMs: 50 })
  const nonce = nonceIssuedAt(Date.now())
  await assert.rejects(
    async () => state.nonceCounts(NONCE_TTL_MS).use(nonce, '00000001'),
    (e: Error & Record<string, unknown>) => {
      assert.equal(e.code, 'GH_ERR_STATE_UNAVAILABLE')
      assert.equal(e.statusCode, 503)
      assert.equal(e.retryAfter, 2)
      return true
    },
  )
  assert.equal(state.counters.nonceUnavailable, 1)
  assert.equal(state.up, false)
  const store = state.throttleStore({
    enabled: true,
    maxLockoutMs: 3_600_000,
    delayMs: 0,
    maxDelayMs: 0,
    maxEntries: 100,
  })
  const k = [key('192.0.2.3', 1)]
  assert.deepEqual(await store.reserve(k, 1000), { ok: true })
  assert.deepEqual(await store.settle(k, true, 1000), [{ failures: 1, lockoutMs: 60_000 }])
  assert.equal(store.lockedFor('address', '192.0.2.3', 1001), 59_999, 'the local lockout holds')
  assert.equal(state.counters.throttleFallbacks, 1)
  await assert.rejects(state.sessionStore().get('k', 1000), { code: 'GH_ERR_STATE_UNAVAILABLE' })
  silent.close()
  clearInterval(alive)
})
