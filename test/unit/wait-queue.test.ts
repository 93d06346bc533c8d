import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Cancellation } from '../../src/ipc/abort.js'
import { WaitQueue } from '../../src/wait-queue.js'

const timeout = (): Error => Object.assign(new Error('waited too long'), { code: 'TIMEOUT' })

test('serve hands values to waiters first come, first served, while it has values', async () => {
  const q = new WaitQueue<string>()
  const a = q.wait({ timeoutMs: 10_000, onTimeout: timeout })
  const b = q.wait({ timeoutMs: 10_000, onTimeout: timeout })
  const c = q.wait({ timeoutMs: 10_000, onTimeout: timeout })
  const values = ['first', 'second']
  assert.equal(
    q.serve(() => values.shift()),
    2,
  )
  assert.equal(await a, 'first')
  assert.equal(await b, 'second')
  assert.equal(q.length, 1)
  q.serve(() => 'third')
  assert.equal(await c, 'third')
  assert.equal(q.waits, 3)
})

test('serve does not ask for a value when nobody waits', () => {
  const q = new WaitQueue<number>()
  let asked = 0
  assert.equal(
    q.serve(() => ++asked),
    0,
  )
  assert.equal(asked, 0)
})

test('a waiter past its timeout is rejected with the error it named and leaves the line', async () => {
  const q = new WaitQueue<number>()
  const w = q.wait({ timeoutMs: 20, onTimeout: timeout })
  await assert.rejects(w, { code: 'TIMEOUT' })
  assert.equal(q.length, 0)
  assert.equal(
    q.serve(() => 1),
    0,
  )
})

test('an aborted waiter is rejected with the abort reason and the next one is served', async () => {
  const q = new WaitQueue<number>()
  const c = new Cancellation()
  const aborted = q.wait({ timeoutMs: 10_000, onTimeout: timeout, signal: c })
  const next = q.wait({ timeoutMs: 10_000, onTimeout: timeout })
  c.abort()
  await assert.rejects(aborted, { name: 'AbortError' })
  q.serve(() => 7)
  assert.equal(await next, 7)
  const already = new Cancellation()
  already.abort()
  await assert.rejects(q.wait({ timeoutMs: 10_000, onTimeout: timeout, signal: already }), { name: 'AbortError' })
})

test('a full line refuses one more waiter at once; rejectAll empties it', async () => {
  const q = new WaitQueue<number>(2)
  const a = q.wait({ timeoutMs: 10_000, onTimeout: timeout })
  const b = q.wait({ timeoutMs: 10_000, onTimeout: timeout })
  assert.equal(q.full, true)
  await assert.rejects(q.wait({ timeoutMs: 10_000, onTimeout: timeout }), { code: 'TIMEOUT' })
  q.rejectAll(() => new Error('closing'))
  await assert.rejects(a, /closing/)
  await assert.rejects(b, /closing/)
  assert.equal(q.length, 0)
})
