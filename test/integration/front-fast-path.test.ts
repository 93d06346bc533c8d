/**
 * The front's fast path (src/front-fast-path.ts) serves plain bodiless HTTP/1.1 requests to an
 * upstream route without Fastify's router and hooks. Each check of the route's steps holds for
 * the requests it takes: the ones here are all such requests (plain path, no body), and a
 * Fastify onRequest hook added by the test tells which requests Fastify saw. A request the fast
 * path serves never reaches Fastify; every refusal is answered by Fastify's steps, and the
 * upstream never sees a refused request.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { parseConfig } from '../../src/config/parse.js'
import { createGatehouse, type Gatehouse } from '../../src/server.js'
import { createLogger } from '../../src/log.js'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'
import { rawRequest, type RawResponse } from '../helpers/raw-request.js'
import { logRecords } from '../helpers/json-keys.js'
import { tempDir } from '../helpers/gateway.js'

const ONE_USER = fileURLToPath(new URL('../fixtures/providers/one-user.ts', import.meta.url))
const basic = (u: string, p: string): string => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`
const ALICE = basic('alice', 's3cret')

let upstream: EchoUpstream
let gh: Gatehouse
let port: number
let deadPort: number
let cleanup: () => void
const logs: string[] = []
/** The targets of the requests Fastify's router saw (its onRequest hooks ran). */
const fastifySaw: string[] = []

before(async () => {
  upstream = await startEchoUpstream()
  deadPort = await closedPort()
  const t = tempDir('gh-fast-path-')
  cleanup = t.cleanup
  const auth = { scheme: 'basic', realm: 'Office', provider: 'one' }
  const config = parseConfig(
    {
      listen: { host: '127.0.0.1', port: 0 },
      providers: { one: { type: 'module', module: ONE_USER } },
      throttle: { delay: 0, perAddress: { maxFailures: 3 }, perUser: false },
      limits: { bodyLimit: 1024 },
      routes: [
        { path: '/open', upstream: upstream.url },
        { path: '/private', upstream: upstream.url, auth },
        { path: '/dead', upstream: `http://127.0.0.1:${deadPort}`, auth },
      ],
    },
    { baseDir: t.dir },
  )
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk))
      cb()
    },
  })
  gh = await createGatehouse(config, { logger: createLogger('info', sink) })
  gh.app.addHook('onRequest', (request, _reply, done) => {
    fastifySaw.push(request.raw.url ?? '')
    done()
  })
  port = Number(new URL(await gh.listen()).port)
})

after(async () => {
  await gh?.close()
  await upstream?.close()
  cleanup?.()
  logRecords(logs.join(''))
})

/** One request on a fresh connection; returns the answer, whether the upstream saw it and whether Fastify did. */
async function send(
  target: string,
  fields: ReadonlyArray<readonly [string, string]>,
  method = 'GET',
): Promise<{ res: RawResponse; upstreamSaw: boolean; viaFastify: boolean }> {
  const seen = upstream.seen.length
  const routed = fastifySaw.length
  const res = await rawRequest(port, method, target, [
    ['Host', `127.0.0.1:${port}`],
    ['Connection', 'close'],
    ...fields,
  ])
  return { res, upstreamSaw: upstream.seen.length > seen, viaFastify: fastifySaw.length > routed }
}

function accessLines(): Array<Record<string, unknown>> {
  return logRecords(logs.join('')).filter((r) => r.msg === 'access')
}

test('an authorized GET is served without Fastify: 200 from the upstream with the identity set and forged identity headers stripped', async () => {
  const { res, upstreamSaw, viaFastify } = await send('/private/page?q=1', [
    ['Authorization', ALICE],
    ['X-Remote-User', 'mallory'],
    ['X-Remote-Groups', 'admin'],
    ['X-Forwarded-User', 'mallory'],
    ['X-Forwarded-For', '203.0.113.9'],
  ])
  assert.equal(res.status, 200)
  assert.equal(upstreamSaw, true)
  assert.equal(viaFastify, false, 'the fast path served it')
  const seen = upstream.seen.at(-1)!
  assert.equal(seen.url, '/private/page?q=1')
  assert.equal(seen.headers['x-remote-user'], 'alice')
  assert.equal(seen.headers['x-remote-groups'], 'staff')
  assert.equal(seen.headers['x-forwarded-user'], undefined)
  // The client is not a trusted proxy: its X-Forwarded-For is replaced, not extended.
  assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1')
  assert.equal(seen.headers['x-forwarded-proto'], 'http')
  const mine = seen.rawHeaders.filter((_v, i) => i % 2 === 0).map((n) => n.toLowerCase())
  assert.equal(mine.filter((n) => n === 'x-remote-user').length, 1)
})

test('no credentials: 401 with the exact challenge, no-store and Vary; the upstream never saw it', async () => {
  const { res, upstreamSaw } = await send('/private/page', [])
  assert.equal(res.status, 401)
  assert.deepEqual(res.headers['www-authenticate'], ['Basic realm="Office", charset="UTF-8"'])
  assert.deepEqual(res.headers['cache-control'], ['no-store'])
  assert.deepEqual(res.headers.vary, ['accept'])
  assert.equal(res.body, 'Unauthorized\n')
  assert.equal(upstreamSaw, false)
})

test('two Authorization fields: 400 naming the problem; the upstream never saw it', async () => {
  const { res, upstreamSaw } = await send('/private/page', [
    ['Authorization', ALICE],
    ['Authorization', basic('bob', 'x')],
  ])
  assert.equal(res.status, 400)
  assert.equal(res.body, 'Bad Request: more than one Authorization header\n')
  assert.equal(upstreamSaw, false)
})

test('a declared body over the limit: 413 with Connection: close; the upstream never saw it', async () => {
  const { res, upstreamSaw } = await send(
    '/private/upload',
    [
      ['Authorization', ALICE],
      ['Content-Length', '4096'],
    ],
    'POST',
  )
  assert.equal(res.status, 413)
  assert.deepEqual(res.headers.connection, ['close'])
  assert.equal(upstreamSaw, false)
})

test('a path the path rule refuses without a %-escape (an empty segment, a dot segment): 400; the upstream never saw it', async () => {
  for (const target of ['/private//page', '/open/../private/page']) {
    const { res, upstreamSaw } = await send(target, [['Authorization', ALICE]])
    assert.equal(res.status, 400, target)
    assert.match(res.body, /^Bad Request: /, target)
    assert.equal(upstreamSaw, false, target)
  }
})

test('TRACE is not proxied: 404 from Fastify; the upstream never saw it', async () => {
  const { res, upstreamSaw, viaFastify } = await send('/open/x', [], 'TRACE')
  assert.equal(res.status, 404)
  assert.equal(upstreamSaw, false)
  assert.equal(viaFastify, true)
})

test('an unreachable upstream: 502 worded as the front words it (plain text, an HTML page for a browser)', async () => {
  const plain = await send('/dead/x', [['Authorization', ALICE]])
  assert.equal(plain.res.status, 502)
  assert.equal(plain.res.body, 'Bad Gateway\n')
  assert.deepEqual(plain.res.headers['content-type'], ['text/plain; charset=utf-8'])
  assert.deepEqual(plain.res.headers.vary, ['accept'])
  assert.equal(plain.viaFastify, false, 'the fast path served it')
  const page = await send('/dead/x', [
    ['Authorization', ALICE],
    ['Accept', 'text/html'],
  ])
  assert.equal(page.res.status, 502)
  assert.deepEqual(page.res.headers['content-type'], ['text/html; charset=utf-8'])
  assert.ok(page.res.headers['content-security-policy'])
  assert.deepEqual(page.res.headers['x-content-type-options'], ['nosniff'])
  assert.match(page.res.body, /Temporarily unavailable/)
})

test('the access line of a fast-path request has the fields of one Fastify served, in one request-id sequence, and no credentials', async () => {
  await send('/open/a', [])
  await send('/private/b', [])
  await send('/private/c', [['Authorization', ALICE]])
  const lines = accessLines()
  const open = lines.find((l) => l.url === '/open/a')!
  const refused = lines.find((l) => l.url === '/private/b')!
  const served = lines.find((l) => l.url === '/private/c')!
  assert.deepEqual(Object.keys(served), Object.keys(open))
  assert.deepEqual(
    Object.keys(served).filter((k) => k !== 'refused'),
    Object.keys(refused).filter((k) => k !== 'refused'),
  )
  assert.equal(served.user, 'alice')
  assert.equal(served.status, 200)
  assert.equal(served.method, 'GET')
  assert.equal(served.remote, '127.0.0.1')
  assert.equal(typeof served.ms, 'number')
  const ids = [open, refused, served].map((l) => parseInt(String(l.reqId).replace(/^req-/, ''), 36))
  assert.ok(ids[0]! < ids[1]! && ids[1]! < ids[2]!, `one increasing sequence: ${JSON.stringify(ids)}`)
  const text = logs.join('')
  assert.equal(text.includes(ALICE.slice(6)), false, 'no credentials in the log')
})

// Last: it locks this client's address out.
test('wrong passwords are verified and counted once each: three 401s, then the address is locked out (429)', async () => {
  const bad = basic('alice', 'wrong')
  const statuses: number[] = []
  let sawAny = false
  for (let i = 0; i < 4; i++) {
    const { res, upstreamSaw } = await send('/private/page', [['Authorization', bad]])
    statuses.push(res.status)
    sawAny ||= upstreamSaw
    if (res.status === 429) assert.ok(res.headers['retry-after'], 'Retry-After on the 429')
  }
  assert.deepEqual(statuses, [401, 401, 401, 429])
  assert.equal(sawAny, false)
})

/** A port nothing listens on (bound, then closed). */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port
      s.close(() => resolve(p))
    })
  })
}
