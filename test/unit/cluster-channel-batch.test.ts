/**
 * Channel's replies of one turn go as one message. The two ends here are in-process endpoints
 * that deliver what the other sent as Node's IPC does: a JSON copy, emitted on a later tick, each
 * message of a read in the same turn. What each end sent is recorded, so the number of messages
 * on the "pipe" is counted, not assumed.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { Channel } from '../../src/cluster/channel.js'

class End extends EventEmitter {
  peer: End | undefined
  readonly sent: Array<Record<string, unknown>> = []
  send(message: unknown, _h?: undefined, _o?: undefined, cb?: (err: Error | null) => void): boolean {
    const copy = JSON.parse(JSON.stringify(message)) as Record<string, unknown>
    this.sent.push(copy)
    process.nextTick(() => this.peer?.emit('message', copy))
    cb?.(null)
    return true
  }
}

function pair(): { a: End; b: End; asker: Channel; answerer: Channel } {
  const a = new End()
  const b = new End()
  a.peer = b
  b.peer = a
  const asker = new Channel(a)
  const answerer = new Channel(b)
  answerer.handle('add', (body) => (body as { x: number }).x + 1)
  answerer.handle('later', async (body) => {
    await new Promise((r) => setImmediate(r))
    return `late ${(body as { x: number }).x}`
  })
  answerer.handle('refuse', () => {
    throw Object.assign(new Error('refused on purpose'), { code: 'GH_ERR_TEST_REFUSED', statusCode: 503 })
  })
  return { a, b, asker, answerer }
}

test('requests that arrive in one turn are answered in one message, each reply to its own request', async () => {
  const { a, b, asker } = pair()
  const replies = await Promise.all([1, 2, 3].map((x) => asker.request('add', { x })))
  assert.deepEqual(replies, [2, 3, 4])
  assert.equal(a.sent.length, 3, 'three requests went')
  assert.equal(b.sent.length, 1, 'one message came back')
  assert.equal((b.sent[0]!.b as unknown[]).length, 3)
})

test('a refusal and a reply that comes later keep their own answers; a lone reply goes as it is', async () => {
  const { b, asker } = pair()
  const [added, refused, late] = await Promise.allSettled([
    asker.request('add', { x: 41 }),
    asker.request('refuse', {}),
    asker.request('later', { x: 7 }),
  ])
  assert.deepEqual(added, { status: 'fulfilled', value: 42 })
  assert.equal(refused.status, 'rejected')
  assert.equal((refused as PromiseRejectedResult).reason.code, 'GH_ERR_TEST_REFUSED')
  assert.equal((refused as PromiseRejectedResult).reason.statusCode, 503)
  assert.deepEqual(late, { status: 'fulfilled', value: 'late 7' })
  // The two answered at once went together; the later one on its own.
  assert.equal(b.sent.length, 2)
  assert.equal((b.sent[0]!.b as unknown[]).length, 2)
  assert.equal(b.sent[1]!.b, undefined)
  assert.equal(b.sent[1]!.body, 'late 7')
})
