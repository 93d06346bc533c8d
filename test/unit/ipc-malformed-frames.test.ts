/**
 * Malformed frames over a real unix socket, both ways. From a worker (a scripted fake), a
 * RESPONSE_HEAD, ERROR, RESULT or HELLO_OK whose JSON does not parse or has the wrong shape, or a
 * frame of the wrong kind for its stream, closes that connection with GH_ERR_IPC_PROTOCOL and
 * fails its streams with 502; nothing is thrown at the front. From a front, a HEAD or CALL that
 * does not parse makes a real WorkerServer drop that connection and keep serving others.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createConnection, createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test, type TestContext } from 'node:test'
import { GatehouseError } from '../../src/errors.js'
import { WorkerConnection } from '../../src/ipc/client.js'
import { FrameDecoder } from '../../src/ipc/frame-decoder.js'
import { Frame, PROTOCOL_VERSION, encodeFrame, type FrameType } from '../../src/ipc/protocol.js'
import type { ProviderHost } from '../../src/daemon/provider-host.js'
import { WorkerServer } from '../../src/daemon/worker-server.js'

const skip = process.platform === 'win32'

function socketPath(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'gh-ipc-bad-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return join(dir, 'w.sock')
}

/** A fake worker: answers HELLO with `hello`, then hands each HEAD or CALL stream to `onStream`. */
async function fakeWorker(
  t: TestContext,
  onStream: (sock: Socket, id: number) => void,
  hello?: string,
): Promise<string> {
  const path = socketPath(t)
  const sockets: Socket[] = []
  const server = createServer((sock) => {
    sockets.push(sock)
    const decoder = new FrameDecoder((type: FrameType, id: number) => {
      if (type === Frame.HELLO)
        sock.write(encodeFrame(Frame.HELLO_OK, 0, hello ?? JSON.stringify({ v: PROTOCOL_VERSION, pid: process.pid })))
      else if (type === Frame.HEAD || type === Frame.CALL) onStream(sock, id)
    })
    sock.on('data', (c: Buffer) => decoder.push(c))
    sock.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(path, resolve))
  t.after(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return path
}

async function connect(t: TestContext, path: string, secret = Buffer.from('secret')): Promise<WorkerConnection> {
  const conn = await WorkerConnection.connect('g', path, secret, 5000)
  t.after(() => conn.destroy())
  return conn
}

function isGroupFailed(err: unknown): true {
  assert.ok(err instanceof GatehouseError, `expected a GatehouseError, got ${String(err)}`)
  assert.equal(err.code, 'GH_ERR_GROUP_FAILED')
  assert.equal(err.statusCode, 502)
  assert.match(err.message, /IPC protocol error/)
  return true
}

const head = { method: 'GET', url: '/', headers: {} }

describe('the front reading malformed frames from a worker', { skip }, () => {
  const requestCases: Array<[string, FrameType, string]> = [
    ['a RESPONSE_HEAD that is not JSON', Frame.RESPONSE_HEAD, '{"status":200,'],
    ['a RESPONSE_HEAD that is JSON null', Frame.RESPONSE_HEAD, 'null'],
    ['a RESPONSE_HEAD with a status that is not a number', Frame.RESPONSE_HEAD, '{"status":"200","headers":{}}'],
    [
      'a RESPONSE_HEAD with a header value that is an object',
      Frame.RESPONSE_HEAD,
      '{"status":200,"headers":{"x":{"y":1}}}',
    ],
    ['a RESPONSE_HEAD whose headers are an array', Frame.RESPONSE_HEAD, '{"status":200,"headers":["x"]}'],
    ['a RESPONSE_HEAD whose headers are a string', Frame.RESPONSE_HEAD, '{"status":200,"headers":"xy"}'],
    ['a RESPONSE_HEAD with status 99', Frame.RESPONSE_HEAD, '{"status":99,"headers":{}}'],
    ['a RESPONSE_HEAD with status 1000', Frame.RESPONSE_HEAD, '{"status":1000,"headers":{}}'],
    ['an ERROR that is not JSON', Frame.ERROR, 'oops'],
    ['a RESULT on a request stream', Frame.RESULT, '{"ok":true,"value":1}'],
  ]
  for (const [what, type, payload] of requestCases) {
    test(`${what} fails the request with 502, closes the connection and fails the other streams on it`, async (t) => {
      let first = 0
      const path = await fakeWorker(t, (sock, id) => {
        if (first === 0) return void (first = id)
        sock.write(encodeFrame(type, id, payload))
      })
      const conn = await connect(t, path)
      const waiting = conn.request(head, null, { timeoutMs: 0 })
      await new Promise((r) => setTimeout(r, 20))
      await assert.rejects(conn.request(head, null, { timeoutMs: 0 }), isGroupFailed)
      await assert.rejects(waiting, isGroupFailed)
      assert.equal(conn.closed, true)
      assert.equal(conn.streams, 0)
    })
  }

  const callCases: Array<[string, FrameType, string]> = [
    ['a RESULT that is not JSON', Frame.RESULT, '{"ok":tru'],
    ['a RESULT with neither ok true nor a coded failure', Frame.RESULT, '{"ok":false}'],
    ['a RESPONSE_HEAD on a call stream', Frame.RESPONSE_HEAD, '{"status":200,"headers":{}}'],
  ]
  for (const [what, type, payload] of callCases) {
    test(`${what} fails the provider call with 502 and closes the connection`, async (t) => {
      const path = await fakeWorker(t, (sock, id) => sock.write(encodeFrame(type, id, payload)))
      const conn = await connect(t, path)
      await assert.rejects(conn.call('checkPassword', ['u', 'p'], 0), isGroupFailed)
      assert.equal(conn.closed, true)
    })
  }

  test('a HELLO_OK that is not JSON fails the connect with GH_ERR_IPC_CLOSED', async (t) => {
    const path = await fakeWorker(t, () => {}, 'hello?')
    await assert.rejects(WorkerConnection.connect('g', path, Buffer.from('secret'), 5000), (err) => {
      assert.ok(err instanceof GatehouseError)
      assert.equal(err.code, 'GH_ERR_IPC_CLOSED')
      assert.match(err.message, /malformed HELLO_OK/)
      return true
    })
  })
})

describe('a worker reading malformed frames from the front', { skip }, () => {
  async function worker(t: TestContext): Promise<{ path: string; secret: Buffer; errors: string[] }> {
    const path = socketPath(t)
    const secret = randomBytes(16)
    const errors: string[] = []
    const server = new WorkerServer({
      // A provider that answers every call: a CALL the worker can read is answered.
      socketPath: path,
      secret,
      provider: { call: async () => ({ ok: true, value: true }) } as unknown as ProviderHost,
      app: (_req, res) => res.end('ok'),
      onError: (msg) => errors.push(msg),
    })
    await server.listen()
    t.after(() => server.close(0))
    return { path, secret, errors }
  }

  /** Opens a raw connection, greets, writes `frame`: 'answered' (a RESPONSE_HEAD came) or 'closed' (the worker dropped it). */
  function rawExchange(path: string, secret: Buffer, frame: Buffer): Promise<'answered' | 'closed'> {
    return new Promise((resolve, reject) => {
      const sock = createConnection(path)
      const decoder = new FrameDecoder((type) => {
        if (type !== Frame.RESPONSE_HEAD) return
        resolve('answered')
        sock.destroy()
      })
      sock.on('data', (c: Buffer) => decoder.push(c))
      sock.on('error', reject)
      sock.on('close', () => resolve('closed'))
      sock.on('connect', () => sock.write(Buffer.concat([encodeFrame(Frame.HELLO, 0, secret), frame])))
      setTimeout(() => {
        sock.destroy()
        reject(new Error('the worker kept the connection open'))
      }, 5000).unref()
    })
  }

  test('a well-formed HEAD over the same raw connection is answered (the greeting is right)', async (t) => {
    const { path, secret } = await worker(t)
    assert.equal(
      await rawExchange(path, secret, encodeFrame(Frame.HEAD, 1, JSON.stringify({ ...head, body: false }))),
      'answered',
    )
  })

  for (const [what, frame] of [
    ['a HEAD that is not JSON', encodeFrame(Frame.HEAD, 1, '{"method":"GET"')],
    ['a HEAD without a url', encodeFrame(Frame.HEAD, 1, JSON.stringify({ method: 'GET', headers: {}, body: false }))],
    ['a HEAD that is JSON null', encodeFrame(Frame.HEAD, 1, 'null')],
    ['a CALL that is not JSON', encodeFrame(Frame.CALL, 1, '[')],
  ] as const) {
    test(`${what} closes that connection; the worker still serves the next one`, async (t) => {
      const { path, secret } = await worker(t)
      assert.equal(await rawExchange(path, secret, frame), 'closed')
      const conn = await connect(t, path, secret)
      const res = await conn.request(head, null, { timeoutMs: 5000 })
      assert.equal(res.status, 200)
      assert.equal(
        res.takeComplete?.()?.toString() ??
          (await new Promise<string>((r) => {
            let s = ''
            res.body.on('data', (c: Buffer) => {
              s += c
            })
            res.body.on('end', () => r(s))
          })),
        'ok',
      )
    })
  }
})
