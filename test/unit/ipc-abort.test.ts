import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { Cancellation, type AbortLike } from '../../src/ipc/abort.js'

describe('Cancellation', () => {
  test('runs every listener once on abort, with an AbortError as the reason', () => {
    const c = new Cancellation()
    const calls: string[] = []
    c.addEventListener('abort', () => calls.push('a'))
    c.addEventListener('abort', () => calls.push('b'))
    assert.equal(c.aborted, false)
    c.abort()
    c.abort()
    assert.deepEqual(calls, ['a', 'b'])
    assert.equal(c.aborted, true)
    assert.equal((c.reason as Error).name, 'AbortError')
  })

  test('a removed listener is not called', () => {
    const c = new Cancellation()
    let called = 0
    const fn = (): void => {
      called++
    }
    c.addEventListener('abort', fn)
    c.removeEventListener('abort', fn)
    c.abort(new Error('gone'))
    assert.equal(called, 0)
    assert.equal((c.reason as Error).message, 'gone')
  })

  test('a listener added after the abort is not called (the caller checks aborted first)', () => {
    const c = new Cancellation()
    c.abort()
    let called = 0
    c.addEventListener('abort', () => {
      called++
    })
    assert.equal(called, 0)
  })

  test('an AbortSignal satisfies AbortLike, so callers may pass either', () => {
    const controller = new AbortController()
    const like: AbortLike = controller.signal
    let called = 0
    like.addEventListener(
      'abort',
      () => {
        called++
      },
      { once: true },
    )
    controller.abort()
    assert.equal(called, 1)
    assert.equal(like.aborted, true)
  })
})
