/**
 * The front's upstream HTTP/1.1 client (src/proxy/http1-*.ts), through a real front (the fast
 * path of createGatehouse) and a keep-alive client connection: real upstreams (node:http,
 * Python's http.server, nginx serving a file) answer whole, and a hostile upstream (a raw
 * socket server writing broken framing) gets a 502 for each refusal, after which the NEXT
 * request on the same client connection gets its own answer on a fresh upstream connection:
 * no response is ever read as another request's. Timeouts and streaming go through
 * UpstreamTarget.forwardTo on a bare node:http front, where the timeouts can be set short.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { EventEmitter, once } from 'node:events'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { Agent, createServer, request, type Server } from 'node:http'
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { parseConfig } from '../../src/config/parse.js'
import { createGatehouse, type Gatehouse } from '../../src/server.js'
import { createLogger } from '../../src/log.js'
import { UpstreamTarget } from '../../src/proxy/upstream-target.js'
import { tempDir } from '../helpers/gateway.js'
import { PYTHON } from '../helpers/python.js'
import { needs } from '../helpers/required-tool.js'
import { NGINX } from '../interop/helpers/nginx.js'

const MiB = 1024 * 1024

/** What a raw upstream writes for a path: the bytes, or its own handling of the socket. */
type Answer = string | ((socket: Socket, path: string) => void)

const OK = (path: string, conn: number): string => {
  const body = `own answer to ${path} on connection ${conn}`
  return `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`
}

const HOSTILE: Record<string, Answer> = {
  '/h/cl-te': 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n',
  '/h/two-cl': 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 45\r\n\r\nhello',
  '/h/bad-chunk': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n',
  '/h/big-head': `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(20_000)}\r\nContent-Length: 2\r\n\r\nok`,
  '/h/lf-only': 'HTTP/1.1 200 OK\nContent-Length: 2\n\nok',
  '/h/obs-fold': 'HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 2\r\n\r\nok',
  '/h/nul': 'HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nok',
  '/h/switch': 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n',
  // A whole second response in the same write, waiting to be read as the next request's.
  '/h/extra': 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirstHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled',
  '/h/early-hints':
    'HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal',
  '/h/to-close': (socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nread until close'),
  '/h/cut': (socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b')
    setImmediate(() => socket.destroy())
  },
  '/h/bytewise': (socket) => {
    const wire = Buffer.from(
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Split: yes\r\n\r\n4\r\nbyte\r\n5\r\nwise!\r\n0\r\n\r\n',
    )
    let i = 0
    const next = (): void => {
      if (i < wire.length) socket.write(wire.subarray(i, ++i), () => setImmediate(next))
    }
    next()
  },
  // A complete response, then bytes nobody asked for once the connection is idle.
  '/h/late-extra': (socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst', () =>
      setImmediate(() => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled')),
    )
  },
  '/h/hang': () => {},
}

interface RawUpstream {
  port: number
  events: EventEmitter
  /** Connections accepted so far; each request's answer names its connection's number. */
  connections: number
  closedConnections: Set<number>
  close(): Promise<void>
}

/** A net server reading request heads and writing HOSTILE[path] (or a correct answer for others). */
async function startRawUpstream(): Promise<RawUpstream> {
  const events = new EventEmitter()
  const sockets = new Set<Socket>()
  const up: RawUpstream = { port: 0, events, connections: 0, closedConnections: new Set(), close: async () => {} }
  const server: NetServer = createNetServer((socket) => {
    const conn = ++up.connections
    sockets.add(socket)
    let buffered = ''
    let served = 0
    socket.on('data', (d: Buffer) => {
      buffered += d.toString('latin1')
      for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
        const head = buffered.slice(0, end)
        buffered = buffered.slice(end + 4)
        const path = head.split(' ')[1] ?? ''
        events.emit('request', path, conn, head)
        served++
        const answer = HOSTILE[path]
        // As an upstream that closed the connection while it was idle: gone when the request comes.
        if (path.startsWith('/h/drop-if-reused') && served > 1) socket.destroy()
        else if (typeof answer === 'function') answer(socket, path)
        else socket.write(answer ?? OK(path, conn), 'latin1')
      }
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      sockets.delete(socket)
      up.closedConnections.add(conn)
      events.emit('closed', conn)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  up.port = (server.address() as AddressInfo).port
  up.close = async () => {
    for (const s of sockets) s.destroy()
    server.close()
    await once(server, 'close')
  }
  return up
}

interface Answered {
  status: number
  body: string
  headers: Record<string, string | string[] | undefined>
  /** The client's local port: the same port means the same front connection. */
  via: number
}

/** GET on the agent's connection (one socket, kept alive); rejects when the front cuts the response. */
function get(port: number, agent: Agent, path: string): Promise<Answered> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', reject)
      res.on('aborted', () => reject(new Error('response cut short')))
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString('latin1'),
          headers: res.headers,
          via: req.socket?.localPort ?? 0,
        }),
      )
    })
    req.on('error', reject)
    req.end()
  })
}

let raw: RawUpstream
let gh: Gatehouse
let frontPort: number
let cleanup: () => void
const logs: string[] = []

before(async () => {
  raw = await startRawUpstream()
  const t = tempDir('gh-http1-client-')
  cleanup = t.cleanup
  const config = parseConfig(
    {
      listen: { host: '127.0.0.1', port: 0 },
      routes: [{ path: '/h', upstream: `http://127.0.0.1:${raw.port}` }],
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
  frontPort = Number(new URL(await gh.listen()).port)
})

after(async () => {
  await gh?.close()
  await raw?.close()
  cleanup?.()
})

describe('a hostile upstream: each refusal is a 502, and the next request gets its own answer', () => {
  const refused = ['cl-te', 'two-cl', 'bad-chunk', 'big-head', 'lf-only', 'obs-fold', 'nul', 'switch', 'cut']
  for (const name of refused) {
    test(`${name}: 502 Bad Gateway, the upstream connection closed, then the next request on the same client connection gets its own answer`, async (t) => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 })
      t.after(() => agent.destroy())
      let badConn = 0
      const onRequest = (path: string, conn: number): void => {
        if (path === `/h/${name}`) badConn = conn
      }
      raw.events.on('request', onRequest)
      t.after(() => raw.events.off('request', onRequest))
      const logged = logs.length
      const bad = await get(frontPort, agent, `/h/${name}`)
      assert.equal(bad.status, 502)
      assert.equal(bad.body, 'Bad Gateway\n')
      assert.equal(bad.headers['content-type'], 'text/plain; charset=utf-8')
      const failure = logs.slice(logged).find((l) => l.includes('upstream request failed'))
      assert.ok(failure?.includes('"code":"GH_ERR_UPSTREAM_FAILED"'), 'logged as GH_ERR_UPSTREAM_FAILED')
      assert.ok(badConn > 0, 'the upstream saw the request')
      if (!raw.closedConnections.has(badConn)) await once(raw.events, 'closed')
      assert.ok(raw.closedConnections.has(badConn), 'the front closed the upstream connection')
      const next = await get(frontPort, agent, '/h/next')
      assert.equal(next.via, bad.via, 'the same client connection')
      assert.equal(next.status, 200)
      assert.match(next.body, /^own answer to \/h\/next on connection (\d+)$/)
      assert.notEqual(Number(/(\d+)$/.exec(next.body)?.[1]), badConn, 'a fresh upstream connection')
    })
  }

  test("a second response written after the first one is never read as the next request's: that upstream connection is closed", async (t) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    t.after(() => agent.destroy())
    let conn = 0
    const onRequest = (path: string, c: number): void => {
      if (path === '/h/extra') conn = c
    }
    raw.events.on('request', onRequest)
    t.after(() => raw.events.off('request', onRequest))
    const first = await get(frontPort, agent, '/h/extra')
    assert.equal(first.status, 200)
    assert.equal(first.body, 'first')
    const next = await get(frontPort, agent, '/h/next')
    assert.equal(next.via, first.via)
    assert.match(next.body, /^own answer to \/h\/next on connection (\d+)$/)
    assert.notEqual(Number(/(\d+)$/.exec(next.body)?.[1]), conn, 'a fresh upstream connection')
  })

  test('bytes arriving on an idle upstream connection close it before any request can read them', async (t) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    t.after(() => agent.destroy())
    let conn = 0
    const onRequest = (path: string, c: number): void => {
      if (path === '/h/late-extra') conn = c
    }
    raw.events.on('request', onRequest)
    t.after(() => raw.events.off('request', onRequest))
    const first = await get(frontPort, agent, '/h/late-extra')
    assert.equal(first.body, 'first')
    while (!raw.closedConnections.has(conn)) await once(raw.events, 'closed')
    const next = await get(frontPort, agent, '/h/next')
    assert.match(next.body, /^own answer to \/h\/next/)
  })

  test('a reused upstream connection found closed before any byte of the response: a GET goes once more on a fresh connection', async (t) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    t.after(() => agent.destroy())
    const warm = await get(frontPort, agent, '/h/warm')
    const warmConn = Number(/(\d+)$/.exec(warm.body)?.[1])
    const seen: number[] = []
    const onRequest = (path: string, conn: number): void => {
      if (path === '/h/drop-if-reused') seen.push(conn)
    }
    raw.events.on('request', onRequest)
    t.after(() => raw.events.off('request', onRequest))
    const r = await get(frontPort, agent, '/h/drop-if-reused')
    assert.equal(r.status, 200)
    assert.equal(seen[0], warmConn, 'first sent on the reused connection')
    assert.equal(seen.length, 2, 'sent twice')
    assert.equal(r.body, `own answer to /h/drop-if-reused on connection ${seen[1]}`)
  })

  test('a POST is not sent twice: the closed reused connection is a 502', async (t) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    t.after(() => agent.destroy())
    await get(frontPort, agent, '/h/warm')
    let sent = 0
    const onRequest = (path: string): void => {
      if (path === '/h/drop-if-reused-post') sent++
    }
    raw.events.on('request', onRequest)
    t.after(() => raw.events.off('request', onRequest))
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: frontPort, path: '/h/drop-if-reused-post', method: 'POST', agent },
        (res) => {
          res.resume()
          res.on('end', () => resolve(res.statusCode ?? 0))
        },
      )
      req.on('error', reject)
      req.end()
    })
    assert.equal(status, 502)
    assert.equal(sent, 1)
  })

  test('interim 103 Early Hints is skipped; the final response is the answer', async (t) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    t.after(() => agent.destroy())
    const r = await get(frontPort, agent, '/h/early-hints')
    assert.equal(r.status, 200)
    assert.equal(r.body, 'final')
    assert.equal(r.headers.link, undefined)
  })

  test('a response split into 1-byte writes arrives whole', async (t) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    t.after(() => agent.destroy())
    const r = await get(frontPort, agent, '/h/bytewise')
    assert.equal(r.status, 200)
    assert.equal(r.body, 'bytewise!')
    assert.equal(r.headers['x-split'], 'yes')
    assert.equal(r.headers['transfer-encoding'], 'chunked', 'the front frames it for its own client')
  })

  test('a response read until the upstream closes arrives whole and its connection is not reused', async (t) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    t.after(() => agent.destroy())
    const r = await get(frontPort, agent, '/h/to-close')
    assert.equal(r.status, 200)
    assert.equal(r.body, 'read until close')
    const next = await get(frontPort, agent, '/h/next')
    assert.match(next.body, /^own answer to \/h\/next/)
  })

  test('the request the upstream reads is a clean HTTP/1.1 head: Host rewritten, hop-by-hop fields out, X-Forwarded-* set', async (t) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    t.after(() => agent.destroy())
    const seen = once(raw.events, 'request')
    await new Promise<void>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: frontPort,
          path: '/h/head?x=1',
          agent,
          headers: { 'x-hop': 'no', connection: 'keep-alive, x-hop', te: 'trailers', 'x-keep': 'yes' },
        },
        (res) => res.resume().on('end', resolve),
      )
      req.on('error', reject)
      req.end()
    })
    const [path, , head] = (await seen) as [string, number, string]
    assert.equal(path, '/h/head?x=1')
    const lines = head.split('\r\n')
    assert.equal(lines[0], 'GET /h/head?x=1 HTTP/1.1')
    const names = lines.slice(1).map((l) => l.slice(0, l.indexOf(':')).toLowerCase())
    assert.ok(lines.includes(`host: 127.0.0.1:${raw.port}`))
    assert.ok(lines.includes('x-keep: yes'))
    assert.ok(lines.includes('x-forwarded-for: 127.0.0.1'))
    for (const hop of ['x-hop', 'connection', 'te', 'keep-alive', 'transfer-encoding'])
      assert.ok(!names.includes(hop), `${hop} not forwarded`)
    assert.equal(names.filter((n) => n === 'host').length, 1)
  })
})

describe('real upstreams answer whole through the front', () => {
  let upstream: Server
  let upPort: number
  let target: UpstreamTarget
  let front: Server
  let port: number
  const bodyHash = createHash('sha256')
  const TOTAL = 64 * MiB
  const piece = (i: number): Buffer => Buffer.alloc(MiB, (i * 7) % 251)
  for (let i = 0; i < TOTAL / MiB; i++) bodyHash.update(piece(i))
  const expected = bodyHash.digest('hex')
  const upstreamEvents = new EventEmitter()
  let written = 0

  before(async () => {
    upstream = createServer((req, res) => {
      if (req.url === '/big') {
        // Chunked (no length): the front must stream it.
        written = 0
        void (async () => {
          for (let i = 0; i < TOTAL / MiB; i++) {
            written += MiB
            if (!res.write(piece(i))) {
              upstreamEvents.emit('blocked')
              await once(res, 'drain')
              upstreamEvents.emit('drained')
            }
          }
          upstreamEvents.emit('finished')
          res.end()
        })()
        return
      }
      if (req.url === '/slow-head') {
        res.on('close', () => upstreamEvents.emit('slow-head-closed'))
        return
      }
      res.end('plain')
    })
    upstream.listen(0, '127.0.0.1')
    await once(upstream, 'listening')
    upPort = (upstream.address() as AddressInfo).port
    target = new UpstreamTarget({ name: 'up', url: `http://127.0.0.1:${upPort}`, headersTimeoutMs: 300 })
    front = createServer((req, res) =>
      target.forwardTo(
        { method: req.method ?? 'GET', url: req.url ?? '/', headers: {}, body: null, remoteAddress: '127.0.0.1' },
        res,
      ),
    )
    front.listen(0, '127.0.0.1')
    await once(front, 'listening')
    port = (front.address() as AddressInfo).port
  })

  after(async () => {
    front.closeAllConnections()
    front.close()
    await target.close()
    upstream.closeAllConnections()
    upstream.close()
  })

  test('a 64 MiB chunked body arrives intact, and the upstream is held back while the client does not read', async () => {
    const r = await new Promise<{ sha: string; bytes: number; writtenWhilePaused: number }>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path: '/big', agent: false }, (res) => {
        const hash = createHash('sha256')
        let bytes = 0
        let writtenWhilePaused = -1
        res.once('data', (c: Buffer) => {
          hash.update(c)
          bytes += c.length
          res.pause()
          // The client reads nothing now. The upstream writes until it blocks; when it stays
          // blocked (no drain for a while), see how far it got, then read the rest.
          const stalled = (): void => {
            writtenWhilePaused = written
            res.on('data', (d: Buffer) => {
              hash.update(d)
              bytes += d.length
            })
            res.resume()
          }
          const watch = (): void => {
            const timer = setTimeout(() => {
              upstreamEvents.off('drained', onDrained)
              stalled()
            }, 200)
            const onDrained = (): void => {
              clearTimeout(timer)
              upstreamEvents.once('blocked', watch)
            }
            upstreamEvents.once('drained', onDrained)
          }
          upstreamEvents.once('blocked', watch)
          upstreamEvents.once('finished', () => {
            if (writtenWhilePaused < 0) stalled()
          })
        })
        res.on('end', () => resolve({ sha: hash.digest('hex'), bytes, writtenWhilePaused }))
      })
        .on('error', reject)
        .end()
    })
    assert.equal(r.bytes, TOTAL)
    assert.equal(r.sha, expected)
    assert.ok(
      r.writtenWhilePaused < TOTAL,
      `the upstream was held back (${r.writtenWhilePaused} of ${TOTAL} bytes written)`,
    )
  })

  test('no response head within headersTimeoutMs: 504 Gateway Timeout, and the upstream sees its connection closed', async () => {
    const closed = once(upstreamEvents, 'slow-head-closed')
    const r = await get(port, new Agent({ keepAlive: false }), '/slow-head')
    assert.equal(r.status, 504)
    assert.equal(r.body, 'Gateway Timeout\n')
    await closed
  })

  test('a client that leaves mid-body closes the upstream connection', async () => {
    const upstreamClosed = new Promise<void>((resolve) => {
      upstream.once('request', (_req, res) => res.once('close', () => resolve()))
    })
    await new Promise<void>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/big', agent: false }, (res) => {
        res.once('data', () => {
          req.destroy()
          resolve()
        })
      })
      req.on('error', () => {})
      req.end()
    })
    await upstreamClosed
  })
})

describe('Python http.server and nginx serve a file through the front', () => {
  const children: ChildProcess[] = []
  let dir: string
  let cleanupDir: () => void
  const file = Buffer.from(Array.from({ length: 300_000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join(''))
  const fileSha = createHash('sha256').update(file).digest('hex')

  before(() => {
    const t = tempDir('gh-http1-static-')
    dir = t.dir
    cleanupDir = t.cleanup
    for (const sub of ['py', 'ng']) {
      mkdirSync(join(dir, 'www', sub), { recursive: true })
      writeFileSync(join(dir, 'www', sub, 'file.txt'), file)
    }
  })

  after(async () => {
    for (const child of children) {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit')
        process.kill(child.pid, 'SIGTERM')
        await exited
      }
    }
    cleanupDir()
  })

  async function throughFront(upstreamPort: number, prefix: string): Promise<void> {
    const g = await createGatehouse(
      parseConfig(
        {
          listen: { host: '127.0.0.1', port: 0 },
          routes: [{ path: prefix, upstream: `http://127.0.0.1:${upstreamPort}` }],
        },
        { baseDir: dir },
      ),
      { logger: createLogger('silent') },
    )
    try {
      const p = Number(new URL(await g.listen()).port)
      const agent = new Agent({ keepAlive: true, maxSockets: 1 })
      try {
        for (let i = 0; i < 3; i++) {
          const r = await get(p, agent, `${prefix}/file.txt`)
          assert.equal(r.status, 200)
          assert.equal(createHash('sha256').update(Buffer.from(r.body, 'latin1')).digest('hex'), fileSha)
        }
        const missing = await get(p, agent, `${prefix}/missing.txt`)
        assert.equal(missing.status, 404)
      } finally {
        agent.destroy()
      }
    } finally {
      await g.close()
    }
  }

  test(
    'Python http.server (HTTP/1.0, closes after each response)',
    { skip: needs(existsSync(PYTHON), `${PYTHON} not found`) },
    async () => {
      const child = spawn(
        PYTHON,
        ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', join(dir, 'www')],
        {
          stdio: ['ignore', 'pipe', 'ignore'],
        },
      )
      children.push(child)
      let out = ''
      const portOf = (): number => Number(/port (\d+)/.exec(out)?.[1] ?? 0)
      while (portOf() === 0) {
        const [chunk] = (await once(child.stdout!, 'data')) as [Buffer]
        out += chunk.toString()
      }
      child.stdout!.resume()
      await throughFront(portOf(), '/py')
    },
  )

  test(
    'nginx serving a static file (HTTP/1.1 keep-alive)',
    { skip: needs(existsSync(NGINX), `${NGINX} not found`) },
    async () => {
      const probe = createNetServer().listen(0, '127.0.0.1')
      await once(probe, 'listening')
      const ngPort = (probe.address() as AddressInfo).port
      probe.close()
      const ng = join(dir, 'nginx')
      mkdirSync(ng, { recursive: true })
      const conf = [
        process.getuid?.() === 0 ? 'user root;' : '',
        'daemon off;',
        `pid ${ng}/nginx.pid;`,
        `error_log ${ng}/error.log;`,
        'events { worker_connections 64; }',
        'http {',
        '  access_log off;',
        ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `  ${k}_temp_path ${ng}/${k};`),
        `  server { listen 127.0.0.1:${ngPort}; root ${join(dir, 'www')}; }`,
        '}',
      ].join('\n')
      writeFileSync(join(ng, 'nginx.conf'), conf)
      const child = spawn(NGINX, ['-p', ng, '-c', join(ng, 'nginx.conf'), '-e', join(ng, 'startup.log')], {
        stdio: ['ignore', 'ignore', 'ignore'],
      })
      children.push(child)
      for (;;) {
        const up = await new Promise<boolean>((resolve) => {
          const s = request({ host: '127.0.0.1', port: ngPort, path: '/', agent: false }, (res) => {
            res.resume()
            resolve(true)
          })
          s.on('error', () => resolve(false))
          s.end()
        })
        if (up) break
        if (child.exitCode !== null) throw new Error('nginx exited')
        await new Promise((r) => setTimeout(r, 50))
      }
      await throughFront(ngPort, '/ng')
    },
  )
})
