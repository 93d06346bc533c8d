import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FramedSocket } from '../../src/ipc/framed-socket.js'
import { Frame } from '../../src/ipc/protocol.js'

/** A connected unix socket pair; the far end collects what arrives. */
async function pair(t: { after(fn: () => void): void }): Promise<{ near: Socket; received: () => number }> {
  const dir = mkdtempSync(join(tmpdir(), 'gh-framed-'))
  let bytes = 0
  const server = createServer((far) =>
    far.on('data', (c: Buffer) => {
      bytes += c.length
    }),
  )
  await new Promise<void>((resolve) => server.listen(join(dir, 's'), resolve))
  const near = connect(join(dir, 's'))
  await new Promise<void>((resolve) => near.once('connect', () => resolve()))
  t.after(() => {
    near.destroy()
    server.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return { near, received: () => bytes }
}

test('frames wait for the check phase until maxBatch of them are queued, then leave at once', async (t) => {
  const { near } = await pair(t)
  const fs = new FramedSocket(
    near,
    () => {},
    () => {},
    3,
  )
  fs.send(Frame.HEAD, 1, '{}')
  fs.send(Frame.HEAD, 2, '{}')
  assert.ok(near.writableLength > 0, 'two frames stay corked')
  fs.send(Frame.HEAD, 3, '{}')
  assert.equal(near.writableLength, 0, 'the third frame sends the batch')
  fs.sendRaw(Frame.DATA, 3, Buffer.from('body'))
  assert.ok(near.writableLength > 0, 'the socket is corked again for the rest of the turn')
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(near.writableLength, 0, 'the rest leaves at the check phase')
})

test('without maxBatch every frame of the turn leaves together at the check phase', async (t) => {
  const { near, received } = await pair(t)
  const fs = new FramedSocket(
    near,
    () => {},
    () => {},
  )
  for (let id = 1; id <= 50; id++) fs.send(Frame.HEAD, id, '{}')
  assert.ok(near.writableLength > 0)
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(near.writableLength, 0)
  const deadline = Date.now() + 2000
  while (received() < 50 * 11 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
  assert.equal(received(), 50 * 11, 'fifty 9-byte headers with 2-byte payloads')
})
