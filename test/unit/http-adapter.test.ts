import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { CreditSender } from '../../src/ipc/flow.js'
import type { ResponseHead } from '../../src/ipc/protocol.js'
import { FramedRequest, FramedResponse, StreamSocket, type StreamSink } from '../../src/daemon/http-adapter.js'

interface Recorded {
  heads: ResponseHead[]
  data: string[]
  ends: number
  aborts: string[]
}

/** One exchange as the worker server builds it, with a sink that records the frames. */
function exchange(method = 'GET'): {
  req: FramedRequest
  res: FramedResponse
  socket: StreamSocket
  rec: Recorded
  socketWrites: () => number
} {
  const rec: Recorded = { heads: [], data: [], ends: 0, aborts: [] }
  const socket = new StreamSocket('192.0.2.7')
  let writes = 0
  socket._write = (_chunk, _enc, cb) => {
    writes++
    cb()
  }
  socket._writev = (chunks, cb) => {
    writes += chunks.length
    cb()
  }
  const req = new FramedRequest(socket, { method, url: '/x', headers: { host: 'h' }, body: false }, () => {})
  const sink: StreamSink = {
    sender: new CreditSender(
      () => false,
      (fn) => fn(),
    ),
    head: (h) => rec.heads.push(h),
    data: (c) => rec.data.push(c.toString()),
    end: () => {
      rec.ends++
    },
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

  test('the first write sends the head with the status set on the response, and calls its callback', async () => {
    const { res, rec } = exchange()
    res.statusCode = 201
    res.setHeader('content-type', 'text/plain')
    await new Promise<void>((resolve) => res.write('68656c6c6f', 'hex', () => resolve()))
    assert.deepEqual(rec.heads, [{ status: 201, headers: { 'content-type': 'text/plain' } }])
    assert.deepEqual(rec.data, ['hello'])
    res.end()
  })

  test('a HEAD response and a 204 send their head and end, and no body bytes', async () => {
    for (const [method, status] of [
      ['HEAD', 200],
      ['GET', 204],
    ] as const) {
      const { res, rec } = exchange(method)
      const finished = new Promise<void>((resolve) => res.once('finish', resolve))
      res.statusCode = status
      assert.equal(res.write('ignored'), true)
      res.end('also ignored')
      await finished
      assert.equal(rec.heads.length, 1, method)
      assert.equal(rec.heads[0]?.status, status)
      assert.deepEqual(rec.data, [], `${method} ${status}`)
      assert.equal(rec.ends, 1)
    }
  })

  test('a write after end is reported as Node reports it, and sends nothing', async () => {
    const { res, rec } = exchange()
    const emitted = new Promise<Error>((resolve) => res.once('error', resolve))
    res.end('done')
    const err = await new Promise<Error>((resolve) => res.write('late', (e) => resolve(e as Error)))
    assert.equal((err as NodeJS.ErrnoException).code, 'ERR_STREAM_WRITE_AFTER_END')
    assert.equal(((await emitted) as NodeJS.ErrnoException).code, 'ERR_STREAM_WRITE_AFTER_END')
    assert.deepEqual(rec.data, ['done'])
  })

  test('a chunk that is neither a string nor bytes throws ERR_INVALID_ARG_TYPE', () => {
    const { res, rec } = exchange()
    assert.throws(() => res.write(42 as never), { code: 'ERR_INVALID_ARG_TYPE' })
    assert.throws(() => res.end({} as never), { code: 'ERR_INVALID_ARG_TYPE' })
    assert.deepEqual(rec.data, [])
  })

  test('strictContentLength still refuses a body longer than the declared Content-Length', () => {
    const { res } = exchange()
    res.strictContentLength = true
    res.writeHead(200, { 'content-length': '2' })
    assert.throws(() => res.write('three'), { code: 'ERR_HTTP_CONTENT_LENGTH_MISMATCH' })
  })
})
