import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Backoff } from '../../src/backoff.js'

test('the delay doubles from the first up to the cap, and reset starts over', () => {
  const b = new Backoff(100, 1000)
  assert.deepEqual(
    Array.from({ length: 6 }, () => b.next()),
    [100, 200, 400, 800, 1000, 1000],
  )
  b.reset()
  assert.equal(b.next(), 100)
})

test('peek tells the next delay without counting a failure', () => {
  const b = new Backoff(50, 5000)
  assert.equal(b.peek(), 50)
  assert.equal(b.peek(), 50)
  b.next()
  assert.equal(b.peek(), 100)
})
