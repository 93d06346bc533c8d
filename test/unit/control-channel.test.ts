/**
 * The control channel (fd 3, newline-delimited JSON) and the validation of every message a
 * worker may send on it. A real child process writes to its fd 3, a real socketpair.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import type { Duplex } from 'node:stream'
import { ControlChannel } from '../../src/ipc/control-channel.js'
import {
  MAX_CONTROL_LINE_BYTES,
  readFromWorker,
  readToWorker,
  type FromWorker,
  type ToWorker,
} from '../../src/ipc/protocol.js'

interface Seen {
  messages: FromWorker[]
  invalid: string[]
  closed: boolean
}

/**
 * A child that writes `chunks` to its fd 3 (each in its own write, 20 ms apart; a number is that
 * many 'x' bytes), then reads one line back and echoes it.
 */
function channelTo(chunks: Array<string | number>): Promise<Seen & { echo: string }> {
  const script = `
    const fs = require('node:fs')
    const chunks = ${JSON.stringify(chunks)}
    let i = 0
    const next = () => {
      if (i < chunks.length) { const c = chunks[i++]; fs.writeSync(3, typeof c === 'number' ? 'x'.repeat(c) : c); setTimeout(next, 20); return }
      const s = new (require('node:net').Socket)({ fd: 3, readable: true, writable: true })
      let got = ''
      s.on('data', (c) => { got += c; if (got.includes('\\n')) { process.stdout.write(got); process.exit(0) } })
      s.on('end', () => process.exit(0))
    }
    next()`
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit', 'pipe'] })
  const seen: Seen = { messages: [], invalid: [], closed: false }
  const ch = new ControlChannel<FromWorker, ToWorker>(child.stdio[3] as Duplex, {
    read: readFromWorker,
    onMessage: (m) => {
      seen.messages.push(m)
      if (seen.messages.length === 1) ch.send({ type: 'shutdown', graceMs: 5 })
    },
    onInvalid: (why) => seen.invalid.push(why),
    onClose: () => {
      seen.closed = true
    },
  })
  let echo = ''
  child.stdout.on('data', (c: Buffer) => {
    echo += c.toString()
  })
  return new Promise((resolve) => child.once('exit', () => setTimeout(() => resolve({ ...seen, echo }), 20)))
}

test('lines split across writes are joined; both directions carry JSON lines', async () => {
  const r = await channelTo([
    '{"type":"rea',
    'dy","pid":42}\n{"type":"changed"}\n',
    '{"type":"log","level":"info","msg":"hi"}\n',
  ])
  assert.deepEqual(r.messages, [
    { type: 'ready', pid: 42 },
    { type: 'changed' },
    { type: 'log', level: 'info', msg: 'hi' },
  ])
  assert.deepEqual(r.invalid, [])
  assert.deepEqual(JSON.parse(r.echo), { type: 'shutdown', graceMs: 5 })
  assert.equal(r.closed, true)
})

test('the first malformed line stops the channel: onInvalid once, nothing after it is delivered', async () => {
  const r = await channelTo(['{"type":"changed"}\nnot json\n{"type":"changed"}\n', '{"type":"changed"}\n'])
  assert.deepEqual(r.messages, [{ type: 'changed' }])
  assert.deepEqual(r.invalid, ['not a JSON line'])
  assert.equal(r.closed, true)
})

test('a line longer than the limit is refused without waiting for its end', async () => {
  const r = await channelTo([MAX_CONTROL_LINE_BYTES + 10])
  assert.deepEqual(r.messages, [])
  assert.equal(r.invalid.length, 1)
  assert.match(r.invalid[0]!, /longer than/)
})

test('readFromWorker accepts exactly the documented shapes', () => {
  assert.deepEqual(readFromWorker({ type: 'ready', pid: 7, providerMethods: ['checkPassword', 'checkPassword'] }), {
    type: 'ready',
    pid: 7,
    providerMethods: ['checkPassword'],
  })
  assert.deepEqual(readFromWorker({ type: 'failed', code: 'X', message: 'm' }), {
    type: 'failed',
    code: 'X',
    message: 'm',
  })
  assert.deepEqual(readFromWorker({ type: 'changed', extra: 1 }), { type: 'changed' })
  assert.deepEqual(readFromWorker({ type: 'log', level: 'error', msg: 'm', fields: { a: 1 } }), {
    type: 'log',
    level: 'error',
    msg: 'm',
    fields: { a: 1 },
  })
  const refused: unknown[] = [
    null,
    [],
    'ready',
    42,
    { type: 'become-root' },
    { type: 'ready' },
    { type: 'ready', pid: '7' },
    { type: 'ready', pid: -1 },
    { type: 'ready', pid: 1.5 },
    { type: 'ready', pid: 7, providerMethods: ['__proto__'] },
    { type: 'ready', pid: 7, providerMethods: 'checkPassword' },
    { type: 'failed', code: 1, message: 'm' },
    { type: 'failed', code: 'X' },
    { type: 'log', level: 'fatal', msg: 'm' },
    { type: 'log', level: 'info' },
    { type: 'log', level: 'info', msg: 'm', fields: [1] },
  ]
  for (const value of refused) assert.throws(() => readFromWorker(value), undefined, JSON.stringify(value))
})

test('readToWorker accepts init and shutdown only', () => {
  assert.equal(readToWorker({ type: 'shutdown', graceMs: 0 }).type, 'shutdown')
  assert.equal(
    readToWorker({ type: 'init', v: 1, kind: 'node', group: 'g', app: '/a', socketPath: '/s', secret: 'ab' }).type,
    'init',
  )
  for (const value of [
    { type: 'shutdown' },
    { type: 'shutdown', graceMs: -1 },
    { type: 'init', v: 1, group: 'g' },
    { type: 'ready', pid: 1 },
    [],
  ]) {
    assert.throws(() => readToWorker(value), undefined, JSON.stringify(value))
  }
})
