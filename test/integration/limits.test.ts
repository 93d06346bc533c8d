/**
 * The front's limits on a real gateway, with raw sockets where a client must
 * misbehave: oversized heads (431) and Authorization values (400), slow heads (408), idle
 * keep-alive connections, too many connections (503), and bodies over a route's limit (413),
 * including chunked bodies streamed to an upstream or a daemon group.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { startEchoUpstream } from '../helpers/echo-upstream.js'
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js'

const ALLOW = fileURLToPath(new URL('../fixtures/providers/allow.ts', import.meta.url))
const MULTI = fileURLToPath(new URL('../fixtures/apps/multi.ts', import.meta.url))

/** A raw connection: write bytes, read everything until the server closes (or `untilBytes` seen). */
function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => resolve(s))
    s.once('error', reject)
  })
}

function readUntilClose(s: Socket): Promise<string> {
  return new Promise((resolve) => {
    let out = ''
    s.setEncoding('latin1')
    s.on('data', (c: string) => {
      out += c
    })
    s.on('error', () => {})
    s.on('close', () => resolve(out))
  })
}

/** Reads one response (head + Content-Length body) from a kept-alive socket. */
function readResponse(s: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = ''
    const onData = (c: Buffer): void => {
      out += c.toString('latin1')
      const end = out.indexOf('\r\n\r\n')
      if (end === -1) return
      const len = Number(/content-length: (\d+)/i.exec(out.slice(0, end))?.[1] ?? 0)
      if (out.length >= end + 4 + len) {
        s.off('data', onData)
        resolve(out)
      }
    }
    s.on('data', onData)
    s.once('error', reject)
  })
}

async function exchange(port: number, data: string): Promise<string> {
  const s = await open(port)
  const done = readUntilClose(s)
  s.write(data)
  return done
}

const status = (raw: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0)

async function gateway(
  t: { after: (fn: () => Promise<void>) => void },
  extra: Record<string, unknown>,
  routes?: unknown[],
): Promise<{ gw: TestGateway; seen: () => Array<{ bodyBytes: number; url: string }> }> {
  const { dir, cleanup } = tempDir()
  const echo = await startEchoUpstream()
  const gw = await startGateway(
    {
      providers: { allow: { type: 'module', module: ALLOW, threads: 1 } },
      routes: routes ?? [
        { path: '/app', upstream: echo.url, auth: { realm: 'R', provider: 'allow' } },
        { path: '/small', upstream: echo.url, bodyLimit: 1000 },
        { path: '/default', upstream: echo.url },
      ],
      ...extra,
    },
    dir,
  )
  t.after(async () => {
    await gw.close()
    await echo.close()
    cleanup()
  })
  return { gw, seen: () => echo.seen }
}

const basic = (user: string, pw: string) => `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`

describe('header limits', () => {
  test('a request head over maxHeaderSize gets 431 and the server keeps serving', async (t) => {
    const { gw } = await gateway(t, { limits: { maxHeaderSize: 4096 } })
    const raw = await exchange(gw.port, `GET /default/x HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(5000)}\r\n\r\n`)
    assert.equal(status(raw), 431)
    const ok = await exchange(gw.port, 'GET /default/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')
    assert.equal(status(ok), 200)
  })

  test('an Authorization value over 16 KiB gets 431 under the default head limit, 400 under a larger one: never a crash or a pass', async (t) => {
    const long = `Basic ${'QUFB'.repeat(5000)}`
    const { gw: small, seen: seenSmall } = await gateway(t, {})
    assert.equal(
      status(
        await exchange(
          small.port,
          `GET /app/x HTTP/1.1\r\nHost: a\r\nAuthorization: ${long}\r\nConnection: close\r\n\r\n`,
        ),
      ),
      431,
    )
    const { gw: large, seen } = await gateway(t, { limits: { maxHeaderSize: 65536 } })
    const raw = await exchange(
      large.port,
      `GET /app/x HTTP/1.1\r\nHost: a\r\nAuthorization: ${long}\r\nConnection: close\r\n\r\n`,
    )
    assert.equal(status(raw), 400)
    assert.equal(seen().length + seenSmall().length, 0)
    assert.equal(
      status(
        await exchange(
          large.port,
          `GET /app/x HTTP/1.1\r\nHost: a\r\nAuthorization: ${basic('u', 'secret')}\r\nConnection: close\r\n\r\n`,
        ),
      ),
      200,
    )
  })

  test('two Authorization headers are ambiguous and get 400, whatever their values', async (t) => {
    const { gw, seen } = await gateway(t, {})
    const raw = await exchange(
      gw.port,
      `GET /app/x HTTP/1.1\r\nHost: a\r\nAuthorization: ${basic('u', 'p')}\r\nAuthorization: ${basic('v', 'q')}\r\nConnection: close\r\n\r\n`,
    )
    assert.equal(status(raw), 400)
    assert.equal(seen().length, 0)
  })
})

describe('timeouts (slowloris)', () => {
  test('a head not complete within headersTimeout gets 408 and the connection is closed', async (t) => {
    const { gw } = await gateway(t, { limits: { headersTimeout: '300ms', requestTimeout: '2s' } })
    const s = await open(gw.port)
    const done = readUntilClose(s)
    s.write('GET /default/x HTTP/1.1\r\nHost: a\r\nX-Slow: 1\r\n')
    const raw = await done
    assert.equal(status(raw), 408)
  })

  test('a kept-alive connection idle past keepAliveTimeout is closed by the server', async (t) => {
    const { gw } = await gateway(t, { limits: { keepAliveTimeout: '200ms' } })
    const s = await open(gw.port)
    const closed = new Promise<void>((r) => s.once('close', () => r()))
    s.write('GET /default/x HTTP/1.1\r\nHost: a\r\n\r\n')
    assert.equal(status(await readResponse(s)), 200)
    await closed
  })

  test('headersTimeout longer than requestTimeout, or 0, is refused by name', async () => {
    const { dir, cleanup } = tempDir()
    try {
      await assert.rejects(
        startGateway({ limits: { headersTimeout: '10s', requestTimeout: '5s' }, routes: [] }, dir),
        /limits\.headersTimeout: expected at most limits\.requestTimeout/,
      )
      await assert.rejects(
        startGateway({ limits: { headersTimeout: 0 }, routes: [] }, dir),
        /limits\.headersTimeout: expected more than 0/,
      )
    } finally {
      cleanup()
    }
  })
})

describe('maxConnections', () => {
  test('requests on connections over maxConnections get 503 with Retry-After and are closed; a freed slot serves again', async (t) => {
    const { gw } = await gateway(t, { limits: { maxConnections: 2 } })
    const held: Socket[] = []
    for (let i = 0; i < 2; i++) {
      const s = await open(gw.port)
      s.write('GET /default/x HTTP/1.1\r\nHost: a\r\n\r\n')
      assert.equal(status(await readResponse(s)), 200)
      held.push(s)
    }
    const raw = await exchange(gw.port, 'GET /default/x HTTP/1.1\r\nHost: a\r\n\r\n')
    assert.equal(status(raw), 503)
    assert.match(raw, /\r\nretry-after: 1\r\n/i)
    assert.match(raw, /\r\nconnection: close\r\n/i)
    const gone = new Promise<void>((r) => held[0]!.once('close', () => r()))
    held[0]!.destroy()
    await gone
    // The server counts the close on its side asynchronously: retry until the slot shows as free (bounded).
    let freed = 0
    for (let i = 0; i < 50 && freed !== 200; i++) {
      freed = status(await exchange(gw.port, 'GET /default/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'))
      if (freed !== 200) await new Promise((r) => setTimeout(r, 20))
    }
    assert.equal(freed, 200)
    held[1]!.destroy()
  })
})

describe('body limits', () => {
  test('a Content-Length over the route bodyLimit gets 413 before anything is forwarded', async (t) => {
    const { gw, seen } = await gateway(t, {})
    const raw = await exchange(
      gw.port,
      `POST /small/x HTTP/1.1\r\nHost: a\r\nContent-Length: 2000\r\n\r\n${'x'.repeat(2000)}`,
    )
    assert.equal(status(raw), 413)
    assert.equal(seen().length, 0)
  })

  test('a chunked body crossing the route bodyLimit gets 413 and the upstream never sees a whole request', async (t) => {
    const { gw, seen } = await gateway(t, {})
    const s = await open(gw.port)
    const done = readUntilClose(s)
    s.write('POST /small/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n')
    for (let i = 0; i < 4; i++) s.write(`1f4\r\n${'y'.repeat(500)}\r\n`)
    s.write('0\r\n\r\n')
    const raw = await done
    assert.equal(status(raw), 413)
    assert.equal(seen().filter((r) => r.bodyBytes > 1000).length, 0)
    const ok = await exchange(
      gw.port,
      `POST /small/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n1f4\r\n${'z'.repeat(500)}\r\n0\r\n\r\n`,
    )
    assert.equal(status(ok), 200)
    assert.equal(seen().at(-1)!.bodyBytes, 500)
  })

  test('limits.bodyLimit applies to routes without their own', async (t) => {
    const { gw } = await gateway(t, { limits: { bodyLimit: 10 } })
    assert.equal(
      status(
        await exchange(gw.port, `POST /default/x HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n${'x'.repeat(11)}`),
      ),
      413,
    )
    assert.equal(
      status(
        await exchange(
          gw.port,
          `POST /default/x HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\nConnection: close\r\n\r\n${'x'.repeat(10)}`,
        ),
      ),
      200,
    )
  })

  test('a chunked body over the limit of a daemon-group route gets 413, and the group keeps serving', async (t) => {
    const { gw } = await gateway(t, { groups: { app: { app: MULTI, processes: 1 } } }, [
      { path: '/upload', group: 'app', bodyLimit: 100_000 },
    ])
    const s = await open(gw.port)
    const done = readUntilClose(s)
    s.write('POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n')
    const chunk = `4000\r\n${'q'.repeat(0x4000)}\r\n`
    for (let i = 0; i < 8; i++) s.write(chunk)
    s.end('0\r\n\r\n')
    const raw = await done
    assert.equal(status(raw), 413)
    assert.ok(!gw.logs.some((l) => l.includes('Reply was already sent')), 'the group target did not answer twice')
    const ok = await exchange(
      gw.port,
      `POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`,
    )
    assert.equal(status(ok), 200)
    assert.match(ok, /"bytes":5/)
  })
})
