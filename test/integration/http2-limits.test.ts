/**
 * The front's limits over HTTP/2: limits.maxConnections counts an HTTP/2 connection once, and
 * the requests of a connection over it get 503 with Retry-After and then GOAWAY (no Connection
 * field, which HTTP/2 forbids); limits.maxHeaderFields counts the fields a client sent, not the
 * four pseudo-header fields that carry the request line; refused requests never reach the upstream.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { connect, type ClientHttp2Session, type OutgoingHttpHeaders } from 'node:http2'
import { connect as tlsConnect } from 'node:tls'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js'
import { haveOpenssl, makeCertificate } from '../helpers/tls-cert.js'
import { needs } from '../helpers/required-tool.js'

const skip = needs(haveOpenssl, 'openssl is not installed (apt install openssl)')

interface Front {
  gw: TestGateway
  upstream: EchoUpstream
  ca: Buffer
  open(): Promise<ClientHttp2Session>
}

async function front(t: TestContext, limits: Record<string, unknown>): Promise<Front> {
  const dir = tempDir('gh-h2-limits-')
  const files = makeCertificate(dir.dir, 'front', 9009)
  const ca = readFileSync(files.cert)
  const upstream = await startEchoUpstream()
  const gw = await startGateway(
    {
      listen: { host: '127.0.0.1', port: 0, http2: true, tls: files },
      limits,
      routes: [{ path: '/open', upstream: upstream.url }],
    },
    dir.dir,
  )
  const sessions: ClientHttp2Session[] = []
  t.after(async () => {
    for (const s of sessions) s.destroy()
    await gw.close()
    await upstream.close()
    dir.cleanup()
  })
  return {
    gw,
    upstream,
    ca,
    async open() {
      const s = connect(`https://127.0.0.1:${gw.port}`, { ca })
      sessions.push(s)
      s.on('error', () => {})
      await new Promise<void>((resolve, reject) => {
        s.once('remoteSettings', () => resolve())
        s.once('error', reject)
      })
      return s
    },
  }
}

function get(
  session: ClientHttp2Session,
  path: string,
  extra: OutgoingHttpHeaders = {},
): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'GET', ':path': path, ...extra })
    let headers: Record<string, unknown> = {}
    stream.on('response', (h) => {
      headers = h
    })
    stream.on('error', reject)
    stream.resume()
    stream.on('end', () => resolve({ status: Number(headers[':status']), headers }))
  })
}

test(
  'a connection over limits.maxConnections gets 503 with Retry-After, then GOAWAY; the first keeps working',
  { skip },
  async (t) => {
    const f = await front(t, { maxConnections: 1 })
    const first = await f.open()
    assert.equal((await get(first, '/open/a')).status, 200)
    const second = await f.open()
    const goaway = new Promise<void>((resolve) => second.once('goaway', () => resolve()))
    const refused = await get(second, '/open/b')
    assert.equal(refused.status, 503)
    assert.equal(refused.headers['retry-after'], '1')
    assert.equal(refused.headers.connection, undefined)
    await goaway
    assert.equal((await get(first, '/open/c')).status, 200)
    assert.deepEqual(
      f.upstream.seen.map((s) => s.url),
      ['/open/a', '/open/c'],
    )
  },
)

test(
  'many streams on one HTTP/2 connection count as one connection against limits.maxConnections',
  { skip },
  async (t) => {
    const f = await front(t, { maxConnections: 1 })
    const session = await f.open()
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => get(session, `/open/${i}`)))
    assert.deepEqual(
      answers.map((a) => a.status),
      Array(20).fill(200),
    )
    assert.equal(f.upstream.seen.length, 20)
  },
)

test(
  'limits.maxHeaderFields counts the fields sent, not the pseudo-header fields; one more gets 431 and GOAWAY',
  { skip },
  async (t) => {
    const f = await front(t, { maxHeaderFields: 10 })
    const fields = (n: number): OutgoingHttpHeaders =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`x-field-${i}`, 'v']))
    const session = await f.open()
    // 10 fields of its own and 4 pseudo-header fields: within the limit.
    const ok = await get(session, '/open/ten', fields(10))
    assert.equal(ok.status, 200)
    const over = await f.open()
    const goaway = new Promise<void>((resolve) => over.once('goaway', () => resolve()))
    const refused = await get(over, '/open/eleven', fields(11))
    assert.equal(refused.status, 431)
    assert.equal(refused.headers.connection, undefined)
    await goaway
    assert.deepEqual(
      f.upstream.seen.map((s) => s.url),
      ['/open/ten'],
    )
  },
)

/** Writes `head` on an HTTP/1.1 (ALPN) connection and returns the status line of the answer, once the front closes it. */
function http1(port: number, ca: Buffer, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca, ALPNProtocols: ['http/1.1'] }, () => {
      assert.equal(socket.alpnProtocol, 'http/1.1')
      socket.write(head)
    })
    let out = ''
    // Bounded: a front that never answers fails the assertion instead of hanging the suite.
    socket.setTimeout(10_000, () => socket.destroy())
    socket.on('data', (c: Buffer) => {
      out += c.toString('latin1')
    })
    socket.on('close', () => resolve(out.split('\r\n')[0] || 'no answer'))
    socket.on('error', reject)
  })
}

test(
  'HTTP/1.1 clients of the HTTP/2 listener are held to the same head limits: 408 for a slow head, 431 for a large one',
  { skip },
  async (t) => {
    const f = await front(t, { headersTimeout: '300ms', requestTimeout: '2s', maxHeaderSize: 2048 })
    assert.equal(await http1(f.gw.port, f.ca, 'GET /open/slow HTTP/1.1\r\nHost: x\r\n'), 'HTTP/1.1 408 Request Timeout')
    assert.equal(
      await http1(f.gw.port, f.ca, `GET /open/big HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(4000)}\r\n\r\n`),
      'HTTP/1.1 431 Request Header Fields Too Large',
    )
    assert.equal(f.upstream.seen.length, 0)
  },
)
