/**
 * The front workers of one gatehouse sharing their security state through the primary: the test
 * process is the primary (a StateHost) and forks two real front workers (test/fixtures/cluster/
 * state-front.ts), each a createGatehouse front on its own 127.0.0.1 port whose state is a
 * ClusterState over its IPC pipe. The fronts share only the Digest secret, the user files and
 * the primary. Users are in an htpasswd file ({SHA}) and an htdigest file (MD5 HA1), both
 * written here with node:crypto; Digest answers are computed by test/helpers/digest-client.ts and
 * the form login by test/helpers/form-client.ts (no server code). The upstream counts what it
 * was sent, so a refused request provably went nowhere. Client addresses come from
 * X-Forwarded-For (127.0.0.1 is a trusted proxy), one per test, so lockouts stay apart.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { StateHost } from '../../src/cluster/state-host.js'
import { createLogger } from '../../src/log.js'
import { clientResponse } from '../helpers/digest-client.js'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'
import { form, hiddenField, HTML, Jar, login, send } from '../helpers/form-client.js'
import { tempDir, writeFile } from '../helpers/gateway.js'
import { startStateFront, type StateFront } from '../helpers/state-front.js'

const REALM = 'Office'
/** Failures per address before the lockout (throttle.perAddress.maxFailures). */
const MAX_FAILURES = 6
/** Every request must be answered by then: a primary gone must never hang one. */
const CLIENT_TIMEOUT_MS = 10_000
/** The workers' wait for one answer of the primary. */
const STATE_TIMEOUT_MS = 1000
const SECRET = 'a-shared-digest-secret-of-enough-length'

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`

type Front = StateFront

interface Answer {
  status: number
  challenge: string | null
  retryAfter: string | null
}

interface WorkerState {
  up: boolean
  counters: { throttleFallbacks: number; nonceUnavailable: number; resyncs: number }
  identities: { size: number; hits: number; misses: number }
  metrics: string
}

describe('two front workers sharing their state through the primary', () => {
  let host: StateHost
  let upstream: EchoUpstream
  let a: Front
  let b: Front
  const stops: Array<() => Promise<void>> = []
  let cleanup: () => void

  before(async () => {
    const t = tempDir('gh-cluster-state-')
    cleanup = t.cleanup
    upstream = await startEchoUpstream()
    const sha = (p: string) => `{SHA}${createHash('sha1').update(p).digest('base64')}`
    writeFile(t.dir, 'users.htpasswd', `alice:${sha('alice-pw')}\nbob:${sha('bob-pw')}\ncarol:${sha('carol-pw')}\n`)
    const ha1 = (u: string, p: string) => createHash('md5').update(`${u}:${REALM}:${p}`).digest('hex')
    writeFile(t.dir, 'users.htdigest', `dora:${REALM}:${ha1('dora', 'dora-pw')}\n`)
    const config = {
      digest: { secret: SECRET },
      trustedProxies: ['127.0.0.1'],
      throttle: { delay: 0, perAddress: { maxFailures: MAX_FAILURES, window: '10m', lockout: '1m' }, perUser: false },
      session: { idleTimeout: '10m', lifetime: '1h' },
      providers: {
        passwords: { type: 'htpasswd', file: './users.htpasswd', threads: 1 },
        hashes: { type: 'htdigest', file: './users.htdigest', threads: 1 },
      },
      routes: [
        { path: '/basic', upstream: upstream.url, auth: { scheme: 'basic', realm: REALM, provider: 'passwords' } },
        { path: '/digest', upstream: upstream.url, auth: { scheme: 'digest', realm: REALM, provider: 'hashes' } },
        { path: '/app', upstream: upstream.url, auth: { scheme: 'form', realm: REALM, provider: 'passwords' } },
      ],
      log: { level: 'info' },
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
    }
  }

  async function stateOf(front: Front): Promise<WorkerState> {
    const res = await fetch(`${front.control}/state`, { signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) })
    return (await res.json()) as WorkerState
  }

  /** Sum of the samples of `name` in the worker's metrics whose labels include every one of `labels`. */
  async function metric(front: Front, name: string, labels: Record<string, string> = {}): Promise<number> {
    let sum = 0
    for (const line of (await stateOf(front)).metrics.split('\n')) {
      const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line)
      if (m === null || m[1] !== name) continue
      if (Object.entries(labels).every(([k, v]) => (m[2] ?? '').includes(`${k}="${v}"`))) sum += Number(m[3])
    }
    return sum
  }

  const passwordChecks = async (): Promise<number> => {
    const labels = { provider: 'passwords', method: 'checkPassword' }
    return (
      (await metric(a, 'gatehouse_provider_call_duration_seconds_count', labels)) +
      (await metric(b, 'gatehouse_provider_call_duration_seconds_count', labels))
    )
  }

  /** A Digest MD5 Authorization for `front`'s fresh challenge, computed without server code. */
  async function digestHeader(front: Front, client: string, nc = '00000001', nonce?: string): Promise<string> {
    let n = nonce
    let opaque = ''
    if (n === undefined) {
      const ch = (await get(front, '/digest', client)).challenge as string
      n = /nonce="([^"]+)"/.exec(ch)![1]!
      opaque = /opaque="([^"]+)"/.exec(ch)![1]!
    }
    const cnonce = '0a4f113b'
    const response = clientResponse({
      algorithm: 'MD5',
      username: 'dora',
      realm: REALM,
      password: 'dora-pw',
      method: 'GET',
      uri: '/digest',
      nonce: n,
      qop: 'auth',
      nc,
      cnonce,
    })
    return `Digest username="dora", realm="${REALM}", nonce="${n}", uri="/digest", algorithm=MD5, qop=auth, nc=${nc}, cnonce="${cnonce}", response="${response}", opaque="${opaque}"`
  }

  test('a Digest Authorization accepted by front A is refused by front B as a replay: 401 stale=true with a fresh nonce, and the app never sees it', async () => {
    const client = '192.0.2.1'
    const header = await digestHeader(a, client)
    const seen = upstream.seen.length
    assert.equal((await get(a, '/digest', client, header)).status, 200)
    assert.equal(upstream.seen.length, seen + 1)
    const replay = await get(b, '/digest', client, header)
    assert.equal(replay.status, 401)
    assert.match(replay.challenge ?? '', /^Digest realm="Office", .*stale=true/)
    const sent = /nonce="([^"]+)"/.exec(header)![1]!
    const offered = /nonce="([^"]+)"/.exec(replay.challenge ?? '')?.[1]
    assert.ok(offered !== undefined && offered !== sent, 'B offers a fresh nonce')
    assert.equal((await get(a, '/digest', client, header)).status, 401, 'and A refuses it again too')
    assert.equal(upstream.seen.length, seen + 1, 'the app never saw a replay')
    // The next count of the same nonce is new to both: B accepts it.
    const opaque = /opaque="([^"]*)"/.exec(header)![1]!
    const next = (await digestHeader(b, client, '00000002', sent)).replace('opaque=""', `opaque="${opaque}"`)
    assert.equal((await get(b, '/digest', client, next)).status, 200)
    assert.equal(upstream.seen.length, seen + 2)
  })

  test('failed Basic logins spread over A and B lock the address out at the configured total: exactly that many reach the provider, then 429 with Retry-After on both, the right password and a cached login too', async () => {
    const client = '192.0.2.2'
    // A cached login on A: after the lockout it is answered from A's cache, which asks the
    // primary nothing: A refuses it only because it learned the lockout B's failure started.
    assert.equal((await get(a, '/basic', client, basic('carol', 'carol-pw'))).status, 200)
    const before = await passwordChecks()
    for (let i = 0; i < MAX_FAILURES; i++) {
      const r = await get(i % 2 === 0 ? a : b, '/basic', client, basic('bob', `wrong-${i}`))
      assert.equal(r.status, 401, `failure ${i + 1}`)
    }
    assert.equal(await passwordChecks(), before + MAX_FAILURES)
    const seen = upstream.seen.length
    const hits = (await stateOf(a)).identities.hits
    const cached = await get(a, '/basic', client, basic('carol', 'carol-pw'))
    assert.equal(cached.status, 429)
    assert.equal(
      (await stateOf(a)).identities.hits,
      hits + 1,
      'a cache hit: refused by the lockout A learned from the primary, not by asking it',
    )
    for (const front of [a, b]) {
      const r = await get(front, '/basic', client, basic('bob', 'wrong-again'))
      assert.equal(r.status, 429)
      assert.ok(Number(r.retryAfter) > 0 && Number(r.retryAfter) <= 60, `Retry-After ${r.retryAfter}`)
      assert.equal((await get(front, '/basic', client, basic('bob', 'bob-pw'))).status, 429)
    }
    assert.equal(await passwordChecks(), before + MAX_FAILURES, 'nothing past the limit reached the provider')
    assert.equal(upstream.seen.length, seen, 'the app saw none of the refused requests')
    // Another address is not touched.
    assert.equal((await get(b, '/basic', '192.0.2.20', basic('bob', 'bob-pw'))).status, 200)
  })

  test("a cache flush on A ends the user's cached login on B", async () => {
    const client = '192.0.2.3'
    const login = basic('alice', 'alice-pw')
    assert.equal((await get(b, '/basic', client, login)).status, 200)
    const warm = (await stateOf(b)).identities
    assert.equal((await get(b, '/basic', client, login)).status, 200)
    assert.equal((await stateOf(b)).identities.hits, warm.hits + 1, 'the second login on B was a cache hit')
    const res = await fetch(`${a.control}/flush?user=alice`, { method: 'POST' })
    assert.equal(res.status, 200)
    const deadline = Date.now() + 5000
    while (!/"user":"alice".*another instance saw a change/.test(b.log())) {
      assert.ok(Date.now() < deadline, "B did not drop alice's entry on A's word")
      await new Promise((r) => setTimeout(r, 20))
    }
    const misses = (await stateOf(b)).identities.misses
    assert.equal((await get(b, '/basic', client, login)).status, 200)
    assert.equal((await stateOf(b)).identities.misses, misses + 1, 'the next login on B asked the provider again')
  })

  test('a form-login session started on A is accepted on B, and a logout on A ends it on B: the replayed cookie goes to the login page and the app never sees it', async () => {
    const jar = new Jar()
    const r = await login(a.url, jar, 'alice', 'alice-pw')
    assert.equal(r.status, 303)
    assert.equal(r.headers.location, '/app/')
    const cookie = jar.header()!
    const seen = upstream.seen.length
    const onB = await send(b.url, '/app/', { headers: { ...HTML, cookie } })
    assert.equal(onB.status, 200)
    assert.equal(upstream.seen.length, seen + 1)
    assert.equal(upstream.seen.at(-1)!.headers['x-remote-user'], 'alice')

    const confirm = await send(a.url, '/.gatehouse/logout', { headers: HTML, jar })
    assert.equal(confirm.status, 200)
    const out = await send(a.url, '/.gatehouse/logout', { ...form({ csrf: hiddenField(confirm.body, 'csrf')! }), jar })
    assert.equal(out.status, 303)
    assert.equal(out.headers.location, '/.gatehouse/login')
    const replay = await send(b.url, '/app/', { headers: { ...HTML, cookie } })
    assert.equal(replay.status, 303)
    assert.equal(replay.headers.location, `/.gatehouse/login?return=${encodeURIComponent('/app/')}`)
    assert.equal(upstream.seen.length, seen + 1, 'the app never saw the ended session')
  })

  test('the primary gone (A’s channel closed): Digest answers 503 with Retry-After at once, sessions 503, throttling counts in A with the fallback counter and a warning, and nothing hangs', async () => {
    const client = '192.0.2.4'
    const header = await digestHeader(a, client)
    const jar = new Jar()
    assert.equal((await login(a.url, jar, 'carol', 'carol-pw')).status, 303)
    assert.equal((await stateOf(a)).up, true)

    a.detach()
    a.proc.disconnect()
    const seen = upstream.seen.length
    const down = await get(a, '/digest', client, header)
    assert.equal(down.status, 503)
    assert.equal(down.retryAfter, '2')
    const session = await send(a.url, '/app/', { headers: { ...HTML, cookie: jar.header()! } })
    assert.equal(session.status, 503)

    const before = await metric(a, 'gatehouse_provider_call_duration_seconds_count', {
      provider: 'passwords',
      method: 'checkPassword',
    })
    for (let i = 0; i < MAX_FAILURES; i++)
      assert.equal((await get(a, '/basic', client, basic('bob', `down-${i}`))).status, 401, `failure ${i + 1}`)
    const locked = await get(a, '/basic', client, basic('bob', 'bob-pw'))
    assert.equal(locked.status, 429)
    assert.ok(Number(locked.retryAfter) > 0)
    assert.equal(
      await metric(a, 'gatehouse_provider_call_duration_seconds_count', {
        provider: 'passwords',
        method: 'checkPassword',
      }),
      before + MAX_FAILURES,
      'counted and limited in A alone',
    )
    assert.equal(upstream.seen.length, seen, 'the app saw nothing while the state could not be asked')

    const s = await stateOf(a)
    assert.equal(s.up, false)
    assert.equal(s.counters.nonceUnavailable, 1)
    // Each login's reserve fell back (its settle then stays in A without asking).
    assert.ok(s.counters.throttleFallbacks >= MAX_FAILURES + 1, `fallbacks ${s.counters.throttleFallbacks}`)
    assert.match(a.log(), /state in the primary process unavailable: login throttling counts per front worker/)
    // B, still attached, is not affected.
    assert.equal((await get(b, '/basic', '192.0.2.21', basic('bob', 'bob-pw'))).status, 200)
  })
})
