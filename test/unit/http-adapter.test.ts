import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { CreditSender } from '../../src/ipc/flow.js'
import type { ResponseHead } from '../../src/ipc/protocol.js'
import { FramedRequest, FramedResponse, StreamSocket, type StreamSink } from '../../src/daemon/http-adapter.js'

interface Recorded { heads: ResponseHead[]; data: string[]; ends: number; aborts: string[] }

/** One exchange as the worker server builds it, with a sink that records the frames. */
function exchange(): { req: FramedRequest; res: FramedResponse; socket: StreamSocket; rec: Recorded; socketWrites: () => number } {
  const rec: Recorded = { heads: [], data: [], ends: 0, aborts: [] }
  const socket = new StreamSocket('192.0.2.7')
  let writes = 0
  socket._write = (_chunk, _enc, cb) => { writes++; cb() }
  socket._writev = (chunks, cb) => { writes += chunks.length; cb() }
  const req = new FramedRequest(socket, { method: 'GET', url: '/x', headers: { host: 'h' }, body: false }, () => {})
  const sink: StreamSink = {
    sender: new CreditSender(() => false, (fn) => fn()),
    head: (h) => rec.heads.push(h),
    data: (c) => rec.data.push(c.toString()),
    end: () => { rec.ends++ },
    abort: (reason) => rec.aborts.push(reason),
    credit: () => {},
  }
  const res = new FramedResponse(req, socket, sink)
  res.once('finish', () => socket.destroy())
  return { req, res, socket, rec, socketWrites: () => writes }
}

describe('FramedResponse', () => {
  test('sends head, body and end as frames, and writes no HTTP bytes to the stand-in socket', async () => {
    const { res, rec, socketWrites } = exchange()
    const finished = new Promise<void>((resolve) => res.once('finish', resolve))
    const closed = new Promise<void>((resolve) => res.once('close', resolve))
    res.setHeader('content-type', 'text/plain')
    res.end('hello')
    await finished
    await closed
    assert.deepEqual(rec.heads, [{ status: 200, headers: { 'content-type': 'text/plain', 'content-length': '5' } }])
    assert.deepEqual(rec.data, ['hello'])
    assert.equal(rec.ends, 1)
    assert.deepEqual(rec.aborts, [])
    assert.equal(socketWrites(), 0)
  })

  test('a streamed (chunked) response sends each write as a DATA frame, then one END', async () => {
    const { res, rec } = exchange()
    const errors: Error[] = []
    res.on('error', (err) => errors.push(err))
    const finished = new Promise<void>((resolve) => res.once('finish', resolve))
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.write('a')
    res.write('b')
    res.end('c')
    await finished
    await new Promise((resolve) => setImmediate(resolve))
    assert.deepEqual(rec.data, ['a', 'b', 'c'])
    assert.equal(rec.ends, 1)
    assert.deepEqual(errors, [])
  })

  test('the end callback runs, as after a socket write', async () => {
    const { res } = exchange()
    await new Promise<void>((resolve) => res.end('x', () => resolve()))
    assert.equal(res.writableFinished, true)
  })
})
