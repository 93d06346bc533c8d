/**
 * The wait queue hands a freed slot to the first waiter in the releaser's own tick: nobody who
 * arrives later takes it first, and a waiter gone by timeout or abort is never handed one. The
 * provider thread pool queues its calls on it, so a thread never runs more than its limit.
 */
import { describe, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Cancellation } from '../../src/ipc/abort.js'
import { WaitQueue } from '../../src/wait-queue.js'
import { ThreadProvider } from '../../src/providers/thread-pool.js'
import { testContext } from '../helpers/auth-context.js'

const timeout = (): Error => Object.assign(new Error('waited too long'), { code: 'TIMEOUT' })

/** A counted resource: `take` is what a newcomer tries before it joins the line. */
function slots(limit: number) {
  let used = 0
  return {
    get used() {
      return used
    },
    take: (): true | undefined => (used < limit ? (used++, true) : undefined),
    release: () => void used--,
  }
}

describe('WaitQueue hand-over', () => {
  test('a served waiter has its value before serve() returns, before any promise continuation runs', () => {
    const q = new WaitQueue<string>()
    const got: string[] = []
    q.join({ timeoutMs: 10_000, onTimeout: timeout }, { served: (v) => got.push(v), failed: assert.fail })
    assert.equal(
      q.serve(() => 'slot'),
      1,
    )
    assert.deepEqual(got, ['slot'])
    assert.equal(q.length, 0)
  })

  test('under a burst, freed slots go to waiters in arrival order and never to a newcomer while one waits', () => {
    const s = slots(2)
    const q = new WaitQueue<true>()
    const served: number[] = []
    const newcomerGot: number[] = []
    const left: number[] = []
    const arrive = (n: number) => {
      // A newcomer takes a free slot only when nobody waits (as dispatch and the group provider do).
      if (q.length === 0 && s.take()) return void newcomerGot.push(n)
      q.join({ timeoutMs: 10_000, onTimeout: timeout }, { served: () => served.push(n), failed: () => left.push(n) })
    }
    for (let n = 0; n < 50; n++) arrive(n)
    assert.deepEqual(newcomerGot, [0, 1])
    // Each release, a newcomer arrives in the same tick: the slot is already the first waiter's.
    for (let n = 50; n < 100; n++) {
      s.release()
      q.serve(s.take)
      assert.equal(s.used, 2)
      arrive(n)
    }
    assert.deepEqual(newcomerGot, [0, 1], 'no newcomer took a slot while someone waited')
    assert.deepEqual(
      served,
      Array.from({ length: 50 }, (_, i) => i + 2),
      'served first come, first served',
    )
    // The newcomers queued behind them, in order: the first two of them were served too.
    q.rejectAll(() => new Error('closing'))
    assert.deepEqual(
      left,
      Array.from({ length: 48 }, (_, i) => i + 52),
    )
  })

  test('a timed-out waiter is never handed a slot, and the slot stays free for the next', async () => {
    const s = slots(1)
    s.take()
    const q = new WaitQueue<true>()
    const outcomes: string[] = []
    q.join(
      { timeoutMs: 20, onTimeout: timeout },
      { served: () => outcomes.push('served'), failed: (e) => outcomes.push((e as { code?: string }).code ?? '') },
    )
    await new Promise((r) => setTimeout(r, 60))
    s.release()
    assert.equal(q.serve(s.take), 0)
    assert.deepEqual(outcomes, ['TIMEOUT'])
    assert.equal(s.used, 0, 'the freed slot was not taken for the waiter that left')
  })

  test('an aborted waiter is never handed a slot; an abort after the hand-over does not fail the waiter', () => {
    const s = slots(1)
    s.take()
    const q = new WaitQueue<true>()
    const outcomes: string[] = []
    const record = (name: string) => ({
      served: () => outcomes.push(`${name} served`),
      failed: (e: Error) => outcomes.push(`${name} ${e.name}`),
    })
    const early = new Cancellation()
    const late = new Cancellation()
    q.join({ timeoutMs: 10_000, onTimeout: timeout, signal: early }, record('early'))
    q.join({ timeoutMs: 10_000, onTimeout: timeout, signal: late }, record('late'))
    early.abort()
    s.release()
    q.serve(s.take)
    late.abort()
    assert.deepEqual(outcomes, ['early AbortError', 'late served'])
    assert.equal(s.used, 1, 'the one slot is held by the waiter that was served')
    assert.equal(q.length, 0)
  })

  test('a full line or an aborted signal fails join at once, without queueing', () => {
    const q = new WaitQueue<number>(1)
    const outcomes: string[] = []
    const record = { served: () => outcomes.push('served'), failed: (e: Error) => outcomes.push(e.message) }
    q.join({ timeoutMs: 10_000, onTimeout: timeout }, record)
    q.join({ timeoutMs: 10_000, onTimeout: timeout }, record)
    const aborted = new Cancellation()
    aborted.abort()
    const open = new WaitQueue<number>()
    open.join({ timeoutMs: 10_000, onTimeout: timeout, signal: aborted }, record)
    assert.deepEqual(outcomes, ['waited too long', 'request aborted'])
    assert.equal(q.length, 1)
    assert.equal(open.length, 0)
    q.rejectAll(() => new Error('closing'))
    assert.deepEqual(outcomes, ['waited too long', 'request aborted', 'closing'])
  })
})

describe('the provider thread pool on the wait queue', () => {
  const fixtures = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', 'fixtures', 'providers')
  const ctx = testContext
  const quiet = { info: () => {}, warn: () => {}, error: () => {} }
  async function pool(t: TestContext, concurrency: number): Promise<ThreadProvider> {
    const p = new ThreadProvider({
      name: 'test',
      specifier: './start-order.ts',
      options: {},
      baseDir: fixtures,
      threads: 1,
      concurrency,
      callTimeoutMs: 20_000,
      log: quiet,
    })
    t.after(() => p.close())
    await p.start()
    return p
  }

  test('a thread never runs more calls at once than its concurrency, and starts them in arrival order', async (t) => {
    const p = await pool(t, 2)
    const answers: string[] = []
    const ask = (n: number): Promise<void> =>
      p.checkPassword!(ctx, `u${n}`, 'pw').then((a) => void answers.push(String(a)))
    // A burst of 30, then 30 more, each sent as an earlier call is answered (while others still wait).
    let next = 30
    const burst = Array.from({ length: 30 }, (_, n) =>
      ask(n).then(() => {
        const n2 = next++
        return ask(n2)
      }),
    )
    await Promise.all(burst)
    assert.equal(answers.length, 60)
    const rows = answers.map((a) => a.split('|'))
    const most = Math.max(...rows.map(([, , m]) => Number(m)))
    assert.equal(most, 2, 'two calls ran at once, never three')
    for (const [user, order] of rows) assert.equal(`u${order}`, user, 'calls start in the order they arrived')
  })

  test('with concurrency 1 every call runs alone', async (t) => {
    const p = await pool(t, 1)
    const answers = await Promise.all(Array.from({ length: 12 }, (_, n) => p.checkPassword!(ctx, `u${n}`, 'pw')))
    assert.deepEqual(
      answers.map((a) => String(a).split('|')[2]),
      Array.from({ length: 12 }, () => '1'),
    )
  })
})
