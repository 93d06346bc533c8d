/**
 * A Digest request whose HA1 is cached, on front workers whose primary holds the state: it is
 * judged in the worker and admitted by the primary in ONE message (state.admit), which also
 * counts a wrong response or uses the nonce count. The test process is the primary (a StateHost)
 * and forks two real front workers (test/fixtures/cluster/state-front.ts); it counts the state
 * messages each worker sends it, by topic. Digest answers are computed by
 * test/helpers/digest-client.ts (node:crypto, no server code); the HA1 file is written here
 * with node:crypto. The upstream counts what it was sent, so a refused request provably went
 * nowhere. Client addresses come from X-Forwarded-For (127.0.0.1 is a trusted proxy), one per
 * test.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { StateHost } from '../../src/cluster/state-host.js'
import { createLogger } from '../../src/log.js'
import { clientResponse } from '../helpers/digest-client.js'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'
import { tempDir, writeFile } from '../helpers/gateway.js'
import { startStateFront, type StateFront } from '../helpers/state-front.js'

const REALM = 'Office'
const MAX_FAILURES = 5
const CLIENT_TIMEOUT_MS = 10_000
const STATE_TIMEOUT_MS = 1000
const SECRET = 'a-shared-digest-secret-of-enough-length'

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`

type Front = StateFront

interface Answer {
  status: number
  challenge: string | null
  retryAfter: string | null
  info: string | null
}

describe('Digest with a cached HA1 on front workers: one message to the primary per request', () => {
  let host: StateHost
  let upstream: EchoUpstream
  let a: Front
  let b: Front
  const stops: Array<() => Promise<void>> = []
  let cleanup: () => void

  before(async () => {
    const t = tempDir('gh-cluster-admit-')
    cleanup = t.cleanup
    upstream = await startEchoUpstream()
    const sha = (p: string) => `{SHA}${createHash('sha1').update(p).digest('base64')}`
    writeFile(t.dir, 'users.htpasswd', `bob:${sha('bob-pw')}\n`)
    const ha1 = (u: string, p: string) => createHash('md5').update(`${u}:${REALM}:${p}`).digest('hex')
    writeFile(t.dir, 'users.htdigest', `dora:${REALM}:${ha1('dora', 'dora-pw')}\n`)
    const config = {
      digest: { secret: SECRET },
      trustedProxies: ['127.0.0.1'],
      throttle: { delay: 0, perAddress: { maxFailures: MAX_FAILURES, window: '10m', lockout: '1m' }, perUser: false },
      providers: {
        passwords: { type: 'htpasswd', file: './users.htpasswd', threads: 1 },
        hashes: { type: 'htdigest', file: './users.htdigest', threads: 1 },
      },
      routes: [
        { path: '/basic', upstream: upstream.url, auth: { scheme: 'basic', realm: REALM, provider: 'passwords' } },
        { path: '/digest', upstream: upstream.url, auth: { scheme: 'digest', realm: REALM, provider: 'hashes' } },
      ],
      log: { level: 'warn' },
    }
    host = new StateHost({
      log: createLogger('silent'),
      throttle: { maxEntries: 1000, maxLockoutMs: 3_600_000 },
      nonceTtlMs: 300_000,
    })
    ;[a, b] = await Promise.all([
      startStateFront(host, { config, baseDir: t.dir, timeoutMs: STATE_TIMEOUT_MS }, stops),
      startStateFront(host, { config, baseDir: t.dir, timeoutMs: STATE_TIMEOUT_MS }, stops),
    ])
    // Each front caches dora's HA1 with one login of its own (that one asks the provider).
    for (const front of [a, b])
      assert.equal((await get(front, '/digest', '192.0.2.100', await digestHeader(front, '192.0.2.100'))).status, 200)
  })

  after(async () => {
    await Promise.all(stops.map((s) => s()))
    host?.close()
    await upstream?.close()
    cleanup?.()
  })

  async function get(front: Front, path: string, client: string, authorization?: string): Promise<Answer> {
    const headers: Record<string, string> = { 'x-forwarded-for': client }
    if (authorization !== undefined) headers.authorization = authorization
    const res = await fetch(`${front.url}${path}`, { headers, signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) })
    await res.arrayBuffer()
    return {
      status: res.status,
      challenge: res.headers.get('www-authenticate'),
      retryAfter: res.headers.get('retry-after'),
      info: res.headers.get('authentication-info'),
    }
  }

  async function stateOf(front: Front): Promise<{ counters: { nonceUnavailable: number }; metrics: string }> {
    const res = await fetch(`${front.control}/state`, { signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) })
    return (await res.json()) as { counters: { nonceUnavailable: number }; metrics: string }
  }

  /** How many times the front asked its provider for a realm hash (the HA1 not cached). */
  async function realmHashCalls(front: Front): Promise<number> {
    let sum = 0
    for (const line of (await stateOf(front)).metrics.split('\n')) {
      const m = /^gatehouse_provider_call_duration_seconds_count\{([^}]*)\} (\S+)$/.exec(line)
      if (m !== null && m[1]!.includes('provider="hashes"') && m[1]!.includes('method="getRealmHash"'))
        sum += Number(m[2])
    }
    return sum
  }

  /** The state messages `run` made the fronts send, by topic. */
  async function messagesOf(run: () => Promise<void>): Promise<Record<string, number>> {
    const before = new Map([...a.sent, ...[...b.sent].map(([k, v]) => [`b:${k}`, v] as const)])
    await run()
    const out: Record<string, number> = {}
    for (const [front, prefix] of [
      [a, ''],
      [b, 'b:'],
    ] as const)
      for (const [topic, n] of front.sent) {
        const d = n - (before.get(`${prefix}${topic}`) ?? 0)
        if (d > 0) out[topic] = (out[topic] ?? 0) + d
      }
    return out
  }

  /** A Digest MD5 Authorization for a fresh challenge of `front`, computed without server code. */
  async function digestHeader(front: Front, client: string, password = 'dora-pw', nc = '00000001'): Promise<string> {
    const ch = (await get(front, '/digest', client)).challenge as string
    const nonce = /nonce="([^"]+)"/.exec(ch)![1]!
    const opaque = /opaque="([^"]+)"/.exec(ch)![1]!
    const cnonce = '5ccc069c'
    const response = clientResponse({
      algorithm: 'MD5',
      username: 'dora',
      realm: REALM,
      password,
      method: 'GET',
      uri: '/digest',
      nonce,
      qop: 'auth',
      nc,
      cnonce,
    })
    return `Digest username="dora", realm="${REALM}", nonce="${nonce}", uri="/digest", algorithm=MD5, qop=auth, nc=${nc}, cnonce="${cnonce}", response="${response}", opaque="${opaque}"`
  }

  test('accepted on A in one message to the primary; the same header on B is a replay (401 stale=true, a fresh nonce), also one message; the app saw it once', async () => {
    const client = '192.0.2.1'
    const header = await digestHeader(a, client)
    const seen = upstream.seen.length
    const hashCalls = (await realmHashCalls(a)) + (await realmHashCalls(b))
    let ok: Answer | undefined
    assert.deepEqual(
      await messagesOf(async () => {
        ok = await get(a, '/digest', client, header)
      }),
      { 'state.admit': 1 },
    )
    assert.equal(ok?.status, 200)
    assert.match(ok?.info ?? '', /rspauth="[0-9a-f]{32}"/)
    let replay: Answer | undefined
    assert.deepEqual(
      await messagesOf(async () => {
        replay = await get(b, '/digest', client, header)
      }),
      { 'state.admit': 1 },
    )
    assert.equal(replay?.status, 401)
    assert.match(replay?.challenge ?? '', /^Digest realm="Office", .*stale=true/)
    const sent = /nonce="([^"]+)"/.exec(header)![1]!
    const offered = /nonce="([^"]+)"/.exec(replay?.challenge ?? '')?.[1]
    assert.ok(offered !== undefined && offered !== sent, 'B offers a fresh nonce')
    assert.equal((await get(a, '/digest', client, header)).status, 401, 'A refuses it again too')
    assert.equal(upstream.seen.length, seen + 1, 'the app saw the request once, no replay')
    assert.equal((await realmHashCalls(a)) + (await realmHashCalls(b)), hashCalls, 'the provider was asked nothing')
  })

  test('parallel wrong responses against a cached HA1, spread over A and B, are counted before they are answered: exactly maxFailures get 401, every other 429, and then the right one gets 429 too', async () => {
    const client = '192.0.2.2'
    const headers = await Promise.all(
      Array.from({ length: 3 * MAX_FAILURES }, (_, i) => digestHeader(i % 2 === 0 ? a : b, client, `guess-${i}`)),
    )
    const seen = upstream.seen.length
    const answers = await Promise.all(headers.map((h, i) => get(i % 2 === 0 ? a : b, '/digest', client, h)))
    const statuses = answers.map((r) => r.status)
    assert.equal(statuses.filter((s) => s === 401).length, MAX_FAILURES, statuses.join(','))
    assert.equal(statuses.filter((s) => s === 429).length, 2 * MAX_FAILURES, statuses.join(','))
    for (const front of [a, b]) {
      const right = await get(front, '/digest', client, await digestHeader(front, '192.0.2.99'))
      assert.equal(right.status, 429, 'the lockout holds for a right response as well')
      assert.ok(Number(right.retryAfter) > 0 && Number(right.retryAfter) <= 60, `Retry-After ${right.retryAfter}`)
    }
    assert.equal(upstream.seen.length, seen, 'the app saw none of them')
  })

  test('an address locked out by failed Basic logins gets 429 on Digest with a cached HA1, right response or wrong, on both fronts; the app never sees them', async () => {
    const client = '192.0.2.3'
    for (let i = 0; i < MAX_FAILURES; i++)
      assert.equal((await get(b, '/basic', client, basic('bob', `wrong-${i}`))).status, 401)
    const seen = upstream.seen.length
    for (const front of [a, b]) {
      const right = await get(front, '/digest', client, await digestHeader(front, '192.0.2.98'))
      assert.equal(right.status, 429)
      assert.ok(Number(right.retryAfter) > 0)
      const wrong = await get(front, '/digest', client, await digestHeader(front, '192.0.2.98', 'not-it'))
      assert.equal(wrong.status, 429)
    }
    assert.equal(upstream.seen.length, seen)
  })

  test('a primary that does not answer: Digest with a cached HA1 is 503 with Retry-After after one wait for the state timeout, nobody is let in; a wrong response is still 401', async () => {
    const client = '192.0.2.4'
    const right = await digestHeader(a, client)
    const wrong = await digestHeader(a, client, 'not-it')
    // The primary stops answering A's admissions (its pipe stays open): A waits, then gives up.
    const unanswered: unknown[] = []
    a.channel.handle('state.admit', (body) => {
      unanswered.push(body)
      return new Promise(() => {})
    })
    const seen = upstream.seen.length
    const before = (await stateOf(a)).counters.nonceUnavailable
    let down: Answer | undefined
    assert.deepEqual(
      await messagesOf(async () => {
        down = await get(a, '/digest', client, right)
      }),
      { 'state.admit': 1 },
      'one message, so one wait for the state timeout, not one per step',
    )
    assert.equal(down?.status, 503)
    assert.equal(down?.retryAfter, '2')
    assert.equal((await stateOf(a)).counters.nonceUnavailable, before + 1)
    assert.equal((await get(a, '/digest', client, wrong)).status, 401, 'counted in A, refused as without the primary')
    assert.equal(upstream.seen.length, seen, 'nobody was let in')
    assert.equal(unanswered.length, 2)
  })
})
