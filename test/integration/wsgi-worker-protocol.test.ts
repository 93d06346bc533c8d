/**
 * The Python worker speaks docs/protocol.md: this test is its peer, written from the document
 * (frames packed by hand, not with gatehouse's encoder). A real /usr/bin/python3 runs the worker
 * with fd 3 as its control channel; the test connects to its unix socket.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Duplex } from 'node:stream'
import type { TestContext } from 'node:test'
import { pythonWorkerPath } from '../../src/daemon/spawn-spec.js'
import { PYTHON, requirePython, skipWithoutPython } from '../helpers/python.js'

const APP = `
def application(environ, start_response):
    body = environ['wsgi.input'].read()
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'got ' + body + b' at ' + environ['PATH_INFO'].encode('latin-1')]
`

interface Worker {
  child: ChildProcess
  control: Duplex
  lines: Array<Record<string, unknown>>
  socketPath: string
  secret: Buffer
}

async function startWorker(t: TestContext): Promise<Worker> {
  requirePython()
  const dir = mkdtempSync(join(tmpdir(), 'gh-pyproto-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'app.py'), APP)
  const child = spawn(PYTHON, [pythonWorkerPath()], { cwd: dir, stdio: ['ignore', 'inherit', 'inherit', 'pipe'] })
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const control = child.stdio[3] as Duplex
  const lines: Array<Record<string, unknown>> = []
  let buf = ''
  control.on('data', (c: Buffer) => {
    buf += c.toString()
    for (let nl = buf.indexOf('\n'); nl !== -1; nl = buf.indexOf('\n')) {
      lines.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>)
      buf = buf.slice(nl + 1)
    }
  })
  control.on('error', () => {})
  const secret = randomBytes(32)
  const socketPath = join(dir, 'w.sock')
  control.write(
    JSON.stringify({
      type: 'init',
      v: 1,
      kind: 'python',
      group: 'proto',
      app: join(dir, 'app.py'),
      socketPath,
      secret: secret.toString('hex'),
      threads: 2,
    }) + '\n',
  )
  for (let i = 0; i < 400 && !lines.some((l) => l.type === 'ready' || l.type === 'failed'); i++)
    await new Promise((r) => setTimeout(r, 25))
  assert.deepEqual(
    lines.find((l) => l.type === 'ready'),
    { type: 'ready', pid: child.pid },
  )
  return { child, control, lines, socketPath, secret }
}

/** `u32 length | u8 type | u32 id | payload`, length counting type + id + payload. */
function frame(type: number, id: number, payload: Buffer | string = Buffer.alloc(0)): Buffer {
  const p = typeof payload === 'string' ? Buffer.from(payload) : payload
  const h = Buffer.alloc(9)
  h.writeUInt32BE(p.length + 5, 0)
  h.writeUInt8(type, 4)
  h.writeUInt32BE(id, 5)
  return Buffer.concat([h, p])
}

interface Frame {
  type: number
  id: number
  payload: Buffer
}

/** Collects frames from `sock` until it closes or `until` says enough. */
function frames(sock: Socket, until: (got: Frame[]) => boolean): Promise<{ frames: Frame[]; closed: boolean }> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0)
    const got: Frame[] = []
    const done = (closed: boolean) => {
      sock.off('data', onData)
      resolve({ frames: got, closed })
    }
    const onData = (c: Buffer) => {
      buf = Buffer.concat([buf, c])
      while (buf.length >= 9 && buf.length >= buf.readUInt32BE(0) + 4) {
        const len = buf.readUInt32BE(0)
        got.push({ type: buf.readUInt8(4), id: buf.readUInt32BE(5), payload: buf.subarray(9, len + 4) })
        buf = buf.subarray(len + 4)
      }
      if (until(got)) done(false)
    }
    sock.on('data', onData)
    sock.once('close', () => done(true))
    sock.on('error', () => {})
  })
}

async function open(w: Worker): Promise<Socket> {
  const sock = connect(w.socketPath)
  await once(sock, 'connect')
  return sock
}

test(
  'the Python worker: 0600 socket, HELLO with the secret, a request with a body, credit, then shutdown exits 0',
  { skip: skipWithoutPython() },
  async (t) => {
    const w = await startWorker(t)
    assert.equal(statSync(w.socketPath).mode & 0o777, 0o600)
    const sock = await open(w)
    sock.write(frame(1, 0, w.secret))
    const hello = await frames(sock, (f) => f.length >= 1)
    assert.deepEqual(JSON.parse(hello.frames[0]!.payload.toString()), { v: 1, pid: w.child.pid })
    assert.equal(hello.frames[0]!.type, 2)

    const head = {
      method: 'POST',
      url: '/x/caf%C3%A9',
      headers: { host: 'h' },
      body: true,
      gateway: { scriptName: '/x', scheme: 'http', serverPort: 80 },
    }
    const body = Buffer.alloc(600 * 1024, 0x61)
    sock.write(
      Buffer.concat([
        frame(3, 7, JSON.stringify(head)),
        frame(4, 7, body.subarray(0, 300 * 1024)),
        frame(4, 7, body.subarray(300 * 1024)),
      ]),
    )
    // The application reads as the body arrives and credit comes back before the body is over.
    const credit = await frames(sock, (f) => f.some((x) => x.type === 8))
    const credited = credit.frames
      .filter((f) => f.type === 8 && f.id === 7)
      .reduce((n, f) => n + f.payload.readUInt32BE(0), 0)
    assert.ok(credited >= 256 * 1024 && credited <= body.length, `credit returned: ${credited}`)
    assert.equal(
      credit.frames.some((f) => f.type === 6),
      false,
      'no response before the body ended',
    )
    sock.write(frame(5, 7))
    const res = await frames(sock, (f) => f.some((x) => x.type === 5))
    const types = res.frames.map((f) => f.type)
    const expected = Buffer.concat([Buffer.from('got '), body, Buffer.from(' at /caf'), Buffer.from([0xc3, 0xa9])])
    const respHead = res.frames.find((f) => f.type === 6)!
    assert.deepEqual(JSON.parse(respHead.payload.toString()), {
      status: 200,
      headers: { 'content-type': 'text/plain', 'content-length': String(expected.length) },
    })
    const data = Buffer.concat(res.frames.filter((f) => f.type === 4).map((f) => f.payload))
    assert.ok(data.equals(expected), 'the body read through wsgi.input, PATH_INFO as its octets')
    assert.equal(types.at(-1), 5)

    w.control.write(JSON.stringify({ type: 'shutdown', graceMs: 1000 }) + '\n')
    const [code] = await once(w.child, 'exit')
    assert.equal(code, 0)
  },
)

test(
  'a wrong secret is dropped unanswered; a malformed frame closes that connection only',
  { skip: skipWithoutPython() },
  async (t) => {
    const w = await startWorker(t)
    const wrong = await open(w)
    wrong.write(frame(1, 0, randomBytes(32)))
    const refused = await frames(wrong, () => false)
    assert.deepEqual([refused.closed, refused.frames.length], [true, 0])

    const hostile: Array<[string, Buffer]> = [
      ['bad JSON head', frame(3, 1, '{not json')],
      ['head without a url', frame(3, 1, JSON.stringify({ method: 'GET', headers: {} }))],
      ['unknown frame type', frame(99, 1)],
      ['length below 5', Buffer.from([0, 0, 0, 1, 3])],
      ['length above the limit', Buffer.from([0x7f, 0, 0, 0, 3, 0, 0, 0, 1])],
      ['HELLO again', frame(1, 0, w.secret)],
    ]
    for (const [what, bytes] of hostile) {
      const sock = await open(w)
      sock.write(frame(1, 0, w.secret))
      await frames(sock, (f) => f.length >= 1)
      sock.write(bytes)
      const r = await frames(sock, () => false)
      assert.equal(r.closed, true, `${what}: connection closed`)
    }
    // Frames for an unknown stream are ignored, and the worker still serves.
    const sock = await open(w)
    sock.write(
      Buffer.concat([
        frame(1, 0, w.secret),
        frame(4, 42, 'stray'),
        frame(8, 43, Buffer.from([0, 0, 0, 1])),
        frame(3, 5, JSON.stringify({ method: 'GET', url: '/ok', headers: {}, body: false })),
      ]),
    )
    const r = await frames(sock, (f) => f.some((x) => x.type === 5 && x.id === 5))
    assert.equal(Buffer.concat(r.frames.filter((f) => f.type === 4).map((f) => f.payload)).toString(), 'got  at /ok')
    assert.equal(w.child.exitCode, null, 'the worker is still running')
    sock.destroy()
    // End of file on the control channel: the front is gone, the worker exits.
    w.control.end()
    const [code] = await once(w.child, 'exit')
    assert.equal(code, 0)
  },
)

test(
  'while the front is there, a first SIGTERM is only logged; a second exits at once',
  { skip: skipWithoutPython() },
  async (t) => {
    const w = await startWorker(t)
    w.child.kill('SIGTERM')
    for (
      let i = 0;
      i < 400 && !w.lines.some((l) => l.type === 'log' && String(l.msg).startsWith('SIGTERM ignored'));
      i++
    )
      await new Promise((r) => setTimeout(r, 10))
    assert.ok(
      w.lines.some((l) => l.type === 'log' && l.level === 'info' && String(l.msg).startsWith('SIGTERM ignored')),
      'the ignored signal is logged on the control channel',
    )
    const sock = await open(w)
    sock.write(
      Buffer.concat([
        frame(1, 0, w.secret),
        frame(3, 1, JSON.stringify({ method: 'GET', url: '/still', headers: {}, body: false })),
      ]),
    )
    const r = await frames(sock, (f) => f.some((x) => x.type === 5 && x.id === 1))
    assert.equal(Buffer.concat(r.frames.filter((f) => f.type === 4).map((f) => f.payload)).toString(), 'got  at /still')
    sock.destroy()
    w.child.kill('SIGTERM')
    const [code, signal] = await once(w.child, 'exit')
    assert.deepEqual([code, signal], [128 + 15, null])
  },
)
