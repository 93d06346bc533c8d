import { after, before, describe, test } from 'node:test'
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { EventEmitter, once } from 'node:events'
import { createServer, request } from 'node:http'
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import pino from 'pino'
import { UpstreamTarget } from '../../src/proxy/upstream-target.js'
import type { UpstreamTargetOptions } from '../../src/proxy/upstream-target.js'
import { isGatehouseError } from '../../src/errors.js'

const MiB = 1024 * 1024
const BIG_CHUNKS = 50 // 50 MiB transfers
const chunk = (i: number): Buffer => Buffer.alloc(MiB, i % 251)
const bigHash = (() => {
  const h = createHash('sha256')
  for (let i = 0; i < BIG_CHUNKS; i++) h.update(chunk(i))
  return h.digest('hex')
})()

/** Upstream events, so tests wait on facts instead of time. */
const signals = new EventEmitter()
const held: ServerResponse[] = []
let upstream: Server
let upstreamUrl: string

function echo(req: IncomingMessage, res: ServerResponse): void {
  const hash = createHash('sha256')
  let bytes = 0
  req.on('data', (c: Buffer) => {
    if (bytes === 0) signals.emit('upload-started')
    bytes += c.length
    hash.update(c)
  })
  req.on('close', () => {
    if (!req.complete) signals.emit('upload-aborted')
  })
  req.on('end', () => {
    const body = JSON.stringify({
      method: req.method,
      url: req.url,
      headers: req.headers,
      bytes,
      sha256: hash.digest('hex'),
    })
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  })
}

async function download(res: ServerResponse): Promise<void> {
  res.on('close', () => {
    if (!res.writableFinished) signals.emit('download-aborted')
  })
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(BIG_CHUNKS * MiB) })
  res.write(chunk(0))
  await once(signals, 'download-started')
  for (let i = 1; i < BIG_CHUNKS; i++) {
    if (!res.write(chunk(i))) await once(res, 'drain')
  }
  res.end()
}

before(async () => {
  upstream = createServer((req, res) => {
    const path = (req.url ?? '').replace(/^\/base/, '').split('?')[0]
    if (path === '/download') return void download(res)
    if (path === '/hop') {
      res.setHeader('connection', 'X-Hop, close')
      res.setHeader('x-hop', 'secret')
      res.setHeader('keep-alive', 'timeout=99, max=999')
      res.setHeader('proxy-authenticate', 'Basic realm="upstream"')
      res.setHeader('set-cookie', ['a=1', 'b=2'])
      res.setHeader('x-keep', 'yes')
      return void res.end('hop')
    }
    if (path === '/not-modified') return void res.writeHead(304, { etag: '"v1"' }).end()
    if (path === '/cookie')
      return void res.writeHead(200, { 'set-cookie': 'up=1', 'x-both': 'upstream', 'content-length': '2' }).end('ok')
    if (path === '/cut-small' || path === '/cut-big') {
      // Declares more than it sends, then drops the connection.
      res.writeHead(200, {
        'content-type': 'text/plain',
        'content-length': String(path === '/cut-small' ? 100 : 4 * MiB),
      })
      res.write(Buffer.alloc(path === '/cut-small' ? 10 : MiB, 'a'))
      setImmediate(() => res.destroy())
      return
    }
    if (path === '/slow') {
      held.push(res)
      signals.emit('slow')
      return
    }
    if (path === '/hang') {
      held.push(res)
      res.on('close', () => {
        if (!res.writableEnded) signals.emit('hang-aborted')
      })
      signals.emit('hang-started')
      return
    }
    if (req.method === 'HEAD') return void res.writeHead(200, { 'content-length': '1234', 'x-head': '1' }).end()
    echo(req, res)
  })
  upstream.listen(0, '127.0.0.1')
  await once(upstream, 'listening')
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`
})

after(async () => {
  for (const res of held) res.destroy()
  upstream.closeAllConnections()
  upstream.close()
  await once(upstream, 'close')
})

/** A front like the gateway's (src/server.ts): raw body stream, catch-all route calling target.forward(). */
async function front(
  t: TestContext,
  opts: Partial<UpstreamTargetOptions> = {},
  setReplyHeaders: Record<string, string> = {},
) {
  const lines: string[] = []
  const completed: number[] = []
  const log = pino(
    { level: 'warn' },
    {
      write: (l: string) => {
        lines.push(l)
      },
    },
  )
  const target = new UpstreamTarget({ name: 'test', url: upstreamUrl, log, ...opts })
  const app = Fastify()
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_req, _payload, done) => done(null))
  app.addHook('onResponse', (_req, reply, done) => {
    completed.push(reply.statusCode)
    done()
  })
  app.route({
    method: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    url: '/*',
    handler: async (req, reply) => {
      const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0
      reply.headers(setReplyHeaders)
      await target.forward(
        {
          method: req.method,
          url: req.url,
          headers: req.headers as Record<string, string | string[]>,
          body: hasBody ? req.raw : null,
          remoteAddress: req.ip,
        },
        reply,
      )
      return reply
    },
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  t.after(async () => {
    await app.close()
    await target.close()
  })
  return { port: (app.server.address() as AddressInfo).port, lines, completed, target }
}

interface Res {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
}

function call(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

const json = (r: Res): { method: string; url: string; headers: IncomingHttpHeaders; bytes: number; sha256: string } =>
  JSON.parse(r.body.toString())

describe('UpstreamTarget', () => {
  test('forwards every method with its body, status and headers', async (t) => {
    const { port } = await front(t)
    for (const method of ['GET', 'DELETE', 'OPTIONS']) {
      const r = await call(port, method, '/echo')
      assert.equal(r.status, 200)
      assert.equal(json(r).method, method)
    }
    for (const method of ['POST', 'PUT', 'PATCH']) {
      const r = await call(port, method, '/echo', { 'content-type': 'text/plain' }, 'hello')
      assert.equal(json(r).method, method)
      assert.equal(json(r).bytes, 5)
      assert.equal(json(r).sha256, createHash('sha256').update('hello').digest('hex'))
    }
  })

  test('HEAD keeps the upstream Content-Length and sends no body', async (t) => {
    const { port } = await front(t)
    const r = await call(port, 'HEAD', '/echo')
    assert.equal(r.status, 200)
    assert.equal(r.headers['content-length'], '1234')
    assert.equal(r.headers['x-head'], '1')
    assert.equal(r.body.length, 0)
  })

  test('a 304 from the upstream reaches the client without a body', async (t) => {
    const { port } = await front(t)
    const r = await call(port, 'GET', '/not-modified')
    assert.equal(r.status, 304)
    assert.equal(r.headers.etag, '"v1"')
    assert.equal(r.body.length, 0)
  })

  test('passes the query string verbatim', async (t) => {
    const { port } = await front(t)
    assert.equal(json(await call(port, 'GET', '/echo?a=1&b=%20x&a=2&c')).url, '/echo?a=1&b=%20x&a=2&c')
  })

  test('joins the upstream path prefix and the request path', async (t) => {
    for (const suffix of ['/base', '/base/']) {
      const { port } = await front(t, { url: `${upstreamUrl}${suffix}` })
      assert.equal(json(await call(port, 'GET', '/echo?x=1')).url, '/base/echo?x=1')
    }
  })

  test("sets Host to the upstream's host, or keeps the client's with preserveHost", async (t) => {
    const plain = await front(t)
    assert.equal(
      json(await call(plain.port, 'GET', '/echo', { host: 'front.example' })).headers.host,
      new URL(upstreamUrl).host,
    )
    const preserving = await front(t, { preserveHost: true })
    assert.equal(
      json(await call(preserving.port, 'GET', '/echo', { host: 'front.example' })).headers.host,
      'front.example',
    )
  })

  test('removes hop-by-hop request headers and those named in Connection', async (t) => {
    const { port } = await front(t)
    const seen = json(
      await call(port, 'GET', '/echo', {
        connection: 'X-Client-Hop',
        'x-client-hop': '1',
        te: 'trailers',
        'x-end-to-end': 'kept',
      }),
    ).headers
    assert.equal(seen['x-client-hop'], undefined)
    assert.equal(seen.te, undefined)
    assert.equal(seen['x-end-to-end'], 'kept')
  })

  test('removes hop-by-hop response headers and those named in Connection', async (t) => {
    const { port } = await front(t)
    const r = await call(port, 'GET', '/hop')
    assert.equal(r.status, 200)
    assert.equal(r.body.toString(), 'hop')
    assert.equal(r.headers['x-hop'], undefined)
    assert.equal(r.headers['proxy-authenticate'], undefined)
    assert.notEqual(r.headers['keep-alive'], 'timeout=99, max=999')
    assert.notEqual(r.headers.connection, 'X-Hop, close')
    assert.equal(r.headers['x-keep'], 'yes')
    assert.deepEqual(r.headers['set-cookie'], ['a=1', 'b=2'])
  })

  test('streams a 50 MiB upload: the upstream reads before the client has finished sending', async (t) => {
    const { port } = await front(t)
    for (const framing of ['content-length', 'chunked'] as const) {
      const headers: Record<string, string> = { 'content-type': 'application/octet-stream' }
      if (framing === 'content-length') headers['content-length'] = String(BIG_CHUNKS * MiB)
      const done = new Promise<Res>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, method: 'PUT', path: '/echo', headers, agent: false }, (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
          )
        })
        req.on('error', reject)
        req.write(chunk(0))
        void once(signals, 'upload-started').then(async () => {
          for (let i = 1; i < BIG_CHUNKS; i++) if (!req.write(chunk(i))) await once(req, 'drain')
          req.end()
        })
      })
      const r = await done
      assert.equal(r.status, 200, framing)
      assert.equal(json(r).bytes, BIG_CHUNKS * MiB, framing)
      assert.equal(json(r).sha256, bigHash, framing)
    }
  })

  test('streams a 50 MiB download: the client reads before the upstream has finished sending', async (t) => {
    const { port } = await front(t)
    const r = await new Promise<{ status: number; length: string | undefined; bytes: number; sha256: string }>(
      (resolve, reject) => {
        request({ host: '127.0.0.1', port, path: '/download', agent: false }, (res) => {
          const hash = createHash('sha256')
          let bytes = 0
          res.on('data', (c: Buffer) => {
            if (bytes === 0) signals.emit('download-started')
            bytes += c.length
            hash.update(c)
          })
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              length: res.headers['content-length'],
              bytes,
              sha256: hash.digest('hex'),
            }),
          )
        })
          .on('error', reject)
          .end()
      },
    )
    assert.equal(r.status, 200)
    assert.equal(r.length, String(BIG_CHUNKS * MiB))
    assert.equal(r.bytes, BIG_CHUNKS * MiB)
    assert.equal(r.sha256, bigHash)
  })

  test('an unreachable upstream is 502 with a short text body, logged as GH_ERR_UPSTREAM_FAILED', async (t) => {
    const closed = createServer()
    closed.listen(0, '127.0.0.1')
    await once(closed, 'listening')
    const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`
    closed.close()
    await once(closed, 'close')
    const { port, lines } = await front(t, { url: deadUrl })
    const r = await call(port, 'POST', '/echo', { 'content-type': 'text/plain' }, 'body')
    assert.equal(r.status, 502)
    assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8')
    assert.equal(r.body.toString(), 'Bad Gateway\n')
    assert.ok(lines.some((l) => l.includes('"code":"GH_ERR_UPSTREAM_FAILED"') && l.includes('ECONNREFUSED')))
  })

  test('an upstream that sends no response head in time is 504, logged as GH_ERR_UPSTREAM_TIMEOUT', async (t) => {
    const { port, lines } = await front(t, { headersTimeoutMs: 200 })
    const r = await call(port, 'GET', '/slow')
    assert.equal(r.status, 504)
    assert.equal(r.body.toString(), 'Gateway Timeout\n')
    assert.ok(lines.some((l) => l.includes('"code":"GH_ERR_UPSTREAM_TIMEOUT"')))
  })

  // The guard only turns a hang into a failure: with 10 min timeouts, nothing but the abort ends the upstream request.
  test('a client that goes away aborts the upstream request', { timeout: 30_000 }, async (t) => {
    t.after(() => {
      for (const res of held) res.destroy()
    }) // runs first, so a failure cannot hang the front's close
    const { port } = await front(t, { headersTimeoutMs: 600_000, bodyTimeoutMs: 600_000 })
    const aborted = once(signals, 'hang-aborted')
    const req = request({ host: '127.0.0.1', port, path: '/hang', agent: false })
    req.on('error', () => {})
    req.end()
    await once(signals, 'hang-started')
    req.destroy()
    await aborted
  })

  test('a client that aborts its upload aborts the upstream request', { timeout: 30_000 }, async (t) => {
    const { port } = await front(t, { headersTimeoutMs: 600_000, bodyTimeoutMs: 600_000 })
    const aborted = once(signals, 'upload-aborted')
    const req = request({
      host: '127.0.0.1',
      port,
      method: 'PUT',
      path: '/echo',
      agent: false,
      headers: { 'content-length': String(10 * MiB) },
    })
    req.on('error', () => {})
    req.write(chunk(0))
    await once(signals, 'upload-started')
    req.destroy()
    await aborted
  })

  test('a client that stops reading a download aborts the upstream response', { timeout: 30_000 }, async (t) => {
    const { port } = await front(t, { headersTimeoutMs: 600_000, bodyTimeoutMs: 600_000 })
    const aborted = once(signals, 'download-aborted')
    const req = request({ host: '127.0.0.1', port, path: '/download', agent: false }, (res) => {
      res.once('data', () => {
        signals.emit('download-started')
        req.destroy()
      })
    })
    req.on('error', () => {})
    req.end()
    await aborted
  })

  test('keeps the fields the front set on the reply; the upstream wins a clash and Set-Cookie adds up', async (t) => {
    const { port } = await front(
      t,
      {},
      { 'authentication-info': 'rspauth="abc"', 'x-both': 'front', 'set-cookie': 'front=1' },
    )
    const r = await call(port, 'GET', '/cookie')
    assert.equal(r.status, 200)
    assert.equal(r.body.toString(), 'ok')
    assert.equal(r.headers['authentication-info'], 'rspauth="abc"')
    assert.equal(r.headers['x-both'], 'upstream')
    assert.deepEqual(r.headers['set-cookie'], ['front=1', 'up=1'])
  })

  test("the front's onResponse hooks see every proxied response, streamed or collected", async (t) => {
    const { port, completed } = await front(t)
    await call(port, 'GET', '/echo')
    await call(port, 'HEAD', '/echo')
    await call(port, 'GET', '/not-modified')
    await new Promise<void>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path: '/download', agent: false }, (res) => {
        res.once('data', () => signals.emit('download-started'))
        res.on('end', resolve).resume()
      })
        .on('error', reject)
        .end()
    })
    assert.deepEqual(completed, [200, 200, 304, 200])
  })

  test('an upstream that drops a small response before its Content-Length is 502, not a truncated 200', async (t) => {
    const { port, lines } = await front(t)
    const r = await call(port, 'GET', '/cut-small')
    assert.equal(r.status, 502)
    assert.equal(r.body.toString(), 'Bad Gateway\n')
    assert.ok(lines.some((l) => l.includes('"code":"GH_ERR_UPSTREAM_FAILED"')))
  })

  test('an upstream that drops a streamed response cuts the client connection and is logged', async (t) => {
    const { port, lines } = await front(t)
    const outcome = await new Promise<{ status: number; bytes: number; error: string }>((resolve) => {
      request({ host: '127.0.0.1', port, path: '/cut-big', agent: false }, (res) => {
        let bytes = 0
        res.on('data', (c: Buffer) => {
          bytes += c.length
        })
        res.on('error', (err) =>
          resolve({ status: res.statusCode ?? 0, bytes, error: (err as { code?: string }).code ?? err.message }),
        )
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, error: 'none' }))
      })
        .on('error', (err) => resolve({ status: 0, bytes: 0, error: err.message }))
        .end()
    })
    assert.equal(outcome.status, 200)
    assert.equal(outcome.error, 'ECONNRESET')
    assert.ok(outcome.bytes < 4 * MiB)
    assert.ok(
      lines.some((l) => l.includes('"code":"GH_ERR_UPSTREAM_FAILED"') && l.includes('upstream response cut short')),
    )
  })

  test('rejects bad options by name at construction', () => {
    const bad: Array<Partial<UpstreamTargetOptions>> = [
      { url: 'not a url' },
      { url: 'ftp://127.0.0.1/' },
      { url: 'http://127.0.0.1/?q=1' },
      { url: 'http://u:p@127.0.0.1/' },
      { connections: 0 },
      { headersTimeoutMs: -1 },
      { bodyTimeoutMs: 1.5 },
      { name: '' },
    ]
    for (const opts of bad) {
      assert.throws(
        () => new UpstreamTarget({ name: 'x', url: 'http://127.0.0.1:1', ...opts }),
        (err) => isGatehouseError(err, 'GH_ERR_OPT_INVALID'),
        JSON.stringify(opts),
      )
    }
  })

  test('close() is idempotent', async () => {
    const target = new UpstreamTarget({ name: 'x', url: 'http://127.0.0.1:1' })
    const first = target.close()
    assert.equal(target.close(), first)
    await first
  })
})
