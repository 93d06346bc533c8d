/**
 * The front over HTTP/2 (listen.http2 with TLS), driven by node:http2's client: request bodies
 * of unknown length (a stream not ended by its HEADERS frame, no Content-Length) reach daemon
 * groups and upstreams intact and are held to bodyLimit; pseudo-header fields never reach a
 * target, which gets Host from :authority; client copies of identity headers are stripped;
 * the connection advertises limits.maxConcurrentStreams; HTTP/1.1 still works on the listener.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { connect, type ClientHttp2Session, type OutgoingHttpHeaders } from 'node:http2'
import { connect as tlsConnect } from 'node:tls'
import { fileURLToPath } from 'node:url'
import { Agent, request as undiciRequest } from 'undici'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js'
import { haveOpenssl, makeCertificate } from '../helpers/tls-cert.js'
import { needs } from '../helpers/required-tool.js'
import { UserStore } from '../../providers/sqlite/store.js'
import { parseConfig } from '../../src/config/parse.js'

const APP = fileURLToPath(new URL('../fixtures/apps/h2-echo.ts', import.meta.url))
const BASIC = `Basic ${Buffer.from('tess:h2-pw').toString('base64')}`
const skip = needs(haveOpenssl, 'openssl is not installed (apt install openssl)')

interface H2Response {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** One request on `session`; `chunks` are written one by one and the stream ended, with no Content-Length. */
function h2(session: ClientHttp2Session, headers: OutgoingHttpHeaders, chunks: Buffer[] = []): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: chunks.length === 0 })
    const out: Buffer[] = []
    let head: Record<string, string | string[] | undefined> = {}
    stream.on('response', (h) => {
      head = h as typeof head
    })
    stream.on('data', (c: Buffer) => out.push(c))
    stream.on('end', () =>
      resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(out).toString('utf8') }),
    )
    stream.on('error', reject)
    for (const c of chunks) stream.write(c)
    if (chunks.length > 0) stream.end()
  })
}

/**
 * Sends one request as raw HTTP/2 frames with the given fields (Node's client refuses to send
 * connection-specific ones) and reports how the server ended stream 1: its response status, or
 * the RST_STREAM / GOAWAY error code. HPACK literals without indexing, no Huffman (RFC 7541 §6.2.2).
 */
function rawH2Request(
  port: number,
  ca: Buffer,
  fields: Array<[string, string]>,
): Promise<{ status?: number; reset?: number; goaway?: number }> {
  const frame = (type: number, flags: number, stream: number, payload: Buffer): Buffer => {
    const head = Buffer.alloc(9)
    head.writeUIntBE(payload.length, 0, 3)
    head[3] = type
    head[4] = flags
    head.writeUInt32BE(stream, 5)
    return Buffer.concat([head, payload])
  }
  const literal = (s: string): Buffer => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)])
  const block = Buffer.concat(fields.map(([n, v]) => Buffer.concat([Buffer.from([0]), literal(n), literal(v)])))
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca, ALPNProtocols: ['h2'] }, () => {
      socket.write(
        Buffer.concat([
          Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
          frame(4, 0, 0, Buffer.alloc(0)),
          frame(1, 0x5, 1, block),
        ]),
      )
    })
    let buf = Buffer.alloc(0)
    const done = (r: { status?: number; reset?: number; goaway?: number }): void => {
      socket.destroy()
      resolve(r)
    }
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk])
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3)
        if (buf.length < 9 + len) return
        const [type, flags, stream] = [buf[3]!, buf[4]!, buf.readUInt32BE(5) & 0x7fffffff]
        const payload = buf.subarray(9, 9 + len)
        buf = buf.subarray(9 + len)
        if (type === 4 && (flags & 1) === 0) socket.write(frame(4, 1, 0, Buffer.alloc(0)))
        // A response HEADERS starts with :status from the static table (indexed 8..14: 200, 204, 206, 304, 400, 404, 500).
        if (type === 1 && stream === 1)
          return done({ status: [200, 204, 206, 304, 400, 404, 500][(payload[0]! & 0x7f) - 8] ?? -1 })
        if (type === 3 && stream === 1) return done({ reset: payload.readUInt32BE(0) })
        if (type === 7) return done({ goaway: payload.readUInt32BE(4) })
      }
    })
    socket.once('error', reject)
  })
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')
const pseudo = (headers: Record<string, unknown>): string[] => Object.keys(headers).filter((k) => k.startsWith(':'))

describe('HTTP/2 front', { skip }, () => {
  let gw: TestGateway
  let upstream: EchoUpstream
  let session: ClientHttp2Session
  let cleanup: () => void
  let ca: Buffer
  let authority: string

  before(async () => {
    const t = tempDir('gh-h2-')
    cleanup = t.cleanup
    const files = makeCertificate(t.dir, 'front', 1001)
    ca = readFileSync(files.cert)
    const store = UserStore.open(`${t.dir}/u.sqlite`, { create: true, bcryptCost: 4 })
    store.addUser('tess', 'h2-pw')
    store.close()
    upstream = await startEchoUpstream()
    const auth = { scheme: 'basic', realm: 'H2', provider: 'local' }
    gw = await startGateway(
      {
        listen: { host: '127.0.0.1', port: 0, http2: true, tls: { cert: files.cert, key: files.key } },
        limits: { maxConcurrentStreams: 7 },
        providers: { local: { type: 'sqlite', database: './u.sqlite' } },
        groups: { echo: { app: APP, processes: 1 } },
        routes: [
          { path: '/up', upstream: upstream.url, auth },
          { path: '/grp', group: 'echo', auth },
          { path: '/small', upstream: upstream.url, bodyLimit: 1000, auth },
          { path: '/small-grp', group: 'echo', bodyLimit: 1000, auth },
        ],
      },
      t.dir,
    )
    authority = `127.0.0.1:${gw.port}`
    session = connect(`https://${authority}`, { ca })
    await new Promise<void>((resolve, reject) => {
      session.once('remoteSettings', () => resolve())
      session.once('error', reject)
    })
  })

  after(async () => {
    session?.close()
    await gw?.close()
    await upstream?.close()
    cleanup?.()
  })

  const get = (path: string, extra: OutgoingHttpHeaders = {}) =>
    h2(session, { ':method': 'GET', ':path': path, authorization: BASIC, ...extra })
  const post = (path: string, chunks: Buffer[], extra: OutgoingHttpHeaders = {}) =>
    h2(
      session,
      { ':method': 'POST', ':path': path, authorization: BASIC, 'content-type': 'application/octet-stream', ...extra },
      chunks,
    )

  test('the connection is HTTP/2 (ALPN h2) and advertises limits.maxConcurrentStreams', () => {
    assert.equal(session.alpnProtocol, 'h2')
    assert.equal(session.remoteSettings.maxConcurrentStreams, 7)
  })

  test('without credentials: 401 with the Basic challenge, and the upstream never sees the request', async () => {
    const before = upstream.seen.length
    const r = await h2(session, { ':method': 'GET', ':path': '/up/x' })
    assert.equal(r.status, 401)
    assert.equal(r.headers['www-authenticate'], 'Basic realm="H2", charset="UTF-8"')
    assert.equal(r.headers.connection, undefined)
    assert.equal(upstream.seen.length, before)
  })

  test('a POST body of unknown length reaches the upstream intact, without pseudo-header fields, Host from :authority', async () => {
    const chunks = [Buffer.alloc(40_000, 'a'), Buffer.alloc(30_000, 'b'), Buffer.from('end')]
    const r = await post('/up/upload?x=1', chunks)
    assert.equal(r.status, 200, r.body)
    const seen = JSON.parse(r.body)
    assert.equal(seen.method, 'POST')
    assert.equal(seen.url, '/up/upload?x=1')
    assert.equal(seen.bodyBytes, 70_003)
    assert.equal(seen.bodySha256, sha256(Buffer.concat(chunks)))
    assert.equal(seen.headers['content-length'], undefined)
    assert.equal(seen.headers['transfer-encoding'], 'chunked')
    assert.deepEqual(pseudo(seen.headers), [])
    assert.ok(!seen.rawHeaders.some((n: string) => n.startsWith(':')))
    assert.equal(seen.headers['x-forwarded-host'], authority)
    assert.equal(seen.headers['x-forwarded-proto'], 'https')
    assert.equal(seen.headers['x-remote-user'], 'tess')
  })

  test('a POST body of unknown length reaches a daemon group intact, without pseudo-header fields, Host from :authority', async () => {
    const chunks = [Buffer.alloc(100_000, 'g'), Buffer.from('tail')]
    const r = await post('/grp/upload', chunks)
    assert.equal(r.status, 200, r.body)
    const seen = JSON.parse(r.body)
    assert.equal(seen.app, 'group')
    assert.equal(seen.method, 'POST')
    assert.equal(seen.url, '/grp/upload')
    assert.equal(seen.bodyBytes, 100_004)
    assert.equal(seen.bodySha256, sha256(Buffer.concat(chunks)))
    assert.deepEqual(pseudo(seen.headers), [])
    assert.equal(seen.headers.host, authority)
    assert.equal(seen.headers['x-remote-user'], 'tess')
  })

  test('a GET whose stream ends with its HEADERS frame reaches the group with no body', async () => {
    const r = await get('/grp/plain')
    assert.equal(r.status, 200)
    const seen = JSON.parse(r.body)
    assert.equal(seen.method, 'GET')
    assert.equal(seen.bodyBytes, 0)
    assert.equal(seen.headers.host, authority)
  })

  test('a body of unknown length over bodyLimit gets 413, and the upstream never sees the request', async () => {
    const before = upstream.seen.length
    const r = await post('/small/big', [Buffer.alloc(600, 'x'), Buffer.alloc(600, 'y')])
    assert.equal(r.status, 413)
    assert.equal(r.headers.connection, undefined)
    // The upstream would answer only once the whole body arrived; give a late copy no room to land unseen.
    const ok = await post('/small/fits', [Buffer.alloc(500, 'x')])
    assert.equal(ok.status, 200)
    assert.deepEqual(
      upstream.seen.slice(before).map((s) => s.url),
      ['/small/fits'],
    )
  })

  test('a body of unknown length over bodyLimit to a daemon group gets 413; the session stays usable', async () => {
    const r = await post('/small-grp/big', [Buffer.alloc(600, 'x'), Buffer.alloc(600, 'y')])
    assert.equal(r.status, 413)
    const ok = await get('/grp/after')
    assert.equal(ok.status, 200)
    assert.equal(JSON.parse(ok.body).url, '/grp/after')
  })

  test('a declared Content-Length over bodyLimit gets 413 before anything is forwarded', async () => {
    const before = upstream.seen.length
    const r = await post('/small/declared', [Buffer.alloc(2000, 'z')], { 'content-length': '2000' })
    assert.equal(r.status, 413)
    assert.equal(upstream.seen.length, before)
  })

  test('client copies of identity headers are stripped over HTTP/2 too', async () => {
    const forged = {
      'x-remote-user': 'root',
      'x-remote-groups': 'admin',
      'remote-user': 'root',
      'x-forwarded-user': 'root',
      x_remote_user: 'root',
    }
    const up = JSON.parse((await get('/up/me', forged)).body)
    assert.equal(up.headers['x-remote-user'], 'tess')
    assert.equal(up.headers['x-remote-groups'], '')
    for (const name of ['remote-user', 'x-forwarded-user', 'x_remote_user'])
      assert.equal(up.headers[name], undefined, name)
    assert.equal(up.rawHeaders.filter((n: string) => n.toLowerCase() === 'x-remote-user').length, 1)
    const grp = JSON.parse((await get('/grp/me', forged)).body)
    assert.equal(grp.headers['x-remote-user'], 'tess')
    for (const name of ['remote-user', 'x-forwarded-user', 'x_remote_user'])
      assert.equal(grp.headers[name], undefined, name)
  })

  test('a Host naming another authority than :authority is refused with 400, unforwarded', async () => {
    const before = upstream.seen.length
    const r = await get('/up/host', { ':authority': authority, host: 'intranet.example' })
    assert.equal(r.status, 400)
    assert.match(r.body, /Host names another authority than :authority/)
    assert.equal(upstream.seen.length, before)
    const same = await get('/up/host', { ':authority': authority, host: authority })
    assert.equal(same.status, 200)
  })

  test('connection-specific fields over HTTP/2 make the stream malformed: it is reset (PROTOCOL_ERROR), never forwarded', async () => {
    const before = upstream.seen.length
    const request = (extra: Array<[string, string]>) =>
      rawH2Request(gw.port, ca, [
        [':method', 'GET'],
        [':scheme', 'https'],
        [':authority', authority],
        [':path', '/up/raw'],
        ['authorization', BASIC],
        ...extra,
      ])
    // The frame writer itself is sound: the same request without the field is answered.
    assert.deepEqual(await request([]), { status: 200 })
    for (const field of [
      ['connection', 'keep-alive'],
      ['transfer-encoding', 'chunked'],
      ['upgrade', 'websocket'],
      ['keep-alive', '5'],
      ['te', 'gzip'],
    ] as Array<[string, string]>) {
      const r = await request([field])
      assert.ok(r.reset === 1 || r.goaway === 1, `${field[0]}: ${JSON.stringify(r)}`)
    }
    assert.equal(upstream.seen.length, before + 1)
  })

  test('HTTP/1.1 clients are still served on the same listener', async () => {
    const dispatcher = new Agent({ connect: { ca } })
    try {
      const r = await undiciRequest(`https://${authority}/up/h1`, { dispatcher, headers: { authorization: BASIC } })
      assert.equal(r.statusCode, 200)
      const seen = (await r.body.json()) as { headers: Record<string, string> }
      assert.equal(seen.headers.host, `127.0.0.1:${upstream.port}`)
      assert.equal(seen.headers['x-forwarded-host'], authority)
    } finally {
      await dispatcher.close()
    }
  })
})

test('listen.http2 without listen.tls is a configuration error naming the key', () => {
  assert.throws(
    () => parseConfig({ listen: { http2: true }, routes: [] }, { baseDir: '/tmp' }),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, 'GH_ERR_CONFIG_INVALID')
      assert.match(err.message, /listen\.http2: needs listen\.tls/)
      return true
    },
  )
})
