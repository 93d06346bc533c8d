/**
 * WorkerConnection's response bodies over a real unix socket, against a scripted worker: a
 * response that arrives whole is taken as a buffer without a stream; a streamed one still
 * streams; a failure after the head reaches whoever reads the body.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server, type Socket } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WorkerConnection } from '../../src/ipc/client.js'
import { FrameDecoder } from '../../src/ipc/frame-decoder.js'
import { Frame, PROTOCOL_VERSION, encodeFrame, type FrameType } from '../../src/ipc/protocol.js'

const skip = process.platform === 'win32'

/** A fake worker: answers HELLO, then hands each request stream id to `onHead`. */
async function fakeWorker(
  t: { after(fn: () => void | Promise<void>): void },
  onHead: (sock: Socket, id: number) => void,
): Promise<WorkerConnection> {
  const dir = mkdtempSync(join(tmpdir(), 'gh-ipc-'))
  const path = join(dir, 'w.sock')
  const sockets: Socket[] = []
  const server: Server = createServer((sock) => {
    sockets.push(sock)
    const decoder = new FrameDecoder((type: FrameType, id: number) => {
      if (type === Frame.HELLO)
        sock.write(encodeFrame(Frame.HELLO_OK, 0, JSON.stringify({ v: PROTOCOL_VERSION, pid: process.pid })))
      else if (type === Frame.HEAD) onHead(sock, id)
    })
    sock.on('data', (c: Buffer) => decoder.push(c))
    sock.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(path, resolve))
  const conn = await WorkerConnection.connect('g', path, Buffer.from('secret'), 5000)
  t.after(async () => {
    conn.destroy()
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    rmSync(dir, { recursive: true, force: true })
  })
  return conn
}

const head = (status: number) => JSON.stringify({ status, headers: { 'content-type': 'text/plain' } })

describe('WorkerConnection response bodies', { skip }, () => {
  test('a response that arrives whole is taken as one buffer, and the stream is then empty', async (t) => {
    const conn = await fakeWorker(t, (sock, id) => {
      sock.write(
        Buffer.concat([
          encodeFrame(Frame.RESPONSE_HEAD, id, head(200)),
          encodeFrame(Frame.DATA, id, 'hel'),
          encodeFrame(Frame.DATA, id, 'lo'),
          encodeFrame(Frame.END, id),
        ]),
      )
    })
    const res = await conn.request({ method: 'GET', url: '/', headers: {} }, null, { timeoutMs: 5000 })
    assert.equal(res.status, 200)
    assert.equal(res.takeComplete?.()?.toString(), 'hello')
    assert.equal(res.takeComplete?.(), undefined, 'taken once')
    const rest: Buffer[] = []
    for await (const c of res.body) rest.push(c as Buffer)
    assert.equal(Buffer.concat(rest).length, 0)
    assert.equal(conn.streams, 0)
  })

  test('a response whose end has not arrived is not taken; its body streams to the end', async (t) => {
    let sock: Socket | undefined
    let id = 0
    const conn = await fakeWorker(t, (s, i) => {
      sock = s
      id = i
      s.write(Buffer.concat([encodeFrame(Frame.RESPONSE_HEAD, i, head(200)), encodeFrame(Frame.DATA, i, 'first ')]))
    })
    const res = await conn.request({ method: 'GET', url: '/', headers: {} }, null, { timeoutMs: 5000 })
    assert.equal(res.takeComplete?.(), undefined)
    const chunks: string[] = []
    const done = (async () => {
      for await (const c of res.body) chunks.push(String(c))
    })()
    sock!.write(Buffer.concat([encodeFrame(Frame.DATA, id, 'second'), encodeFrame(Frame.END, id)]))
    await done
    assert.equal(chunks.join(''), 'first second')
  })

  test('a worker error after the head fails the body stream with GH_ERR_GROUP_FAILED', async (t) => {
    const conn = await fakeWorker(t, (sock, id) => {
      sock.write(
        Buffer.concat([
          encodeFrame(Frame.RESPONSE_HEAD, id, head(200)),
          encodeFrame(Frame.DATA, id, 'part'),
          encodeFrame(Frame.ERROR, id, JSON.stringify({ code: 'APP', message: 'boom' })),
        ]),
      )
    })
    const res = await conn.request({ method: 'GET', url: '/', headers: {} }, null, { timeoutMs: 5000 })
    assert.equal(res.takeComplete?.(), undefined)
    await assert.rejects(
      async () => {
        for await (const _ of res.body) {
          /* drain */
        }
      },
      { code: 'GH_ERR_GROUP_FAILED' },
    )
  })
})
