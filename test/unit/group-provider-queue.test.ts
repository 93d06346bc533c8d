/**
 * The group provider's wait for a call slot (providerConcurrency, providerQueueTimeout): calls
 * over the cap wait first come, first served; a freed slot goes to the longest waiter; a waiter
 * leaves with GH_ERR_PROVIDER_BUSY after the queue timeout or GH_ERR_PROVIDER_UNAVAILABLE on
 * close, and the group never sees a call that left the line.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { GroupProvider, type ProviderGroup } from '../../src/providers/group-provider.js'
import type { AuthContext } from '../../src/providers/contract.js'

const ctx: AuthContext = {
  method: 'GET',
  path: '/',
  host: 'example.test',
  remoteAddress: '127.0.0.1',
  route: 'r',
  realm: 'R',
  headers: {},
}

/** A group whose calls are answered by the test: each call waits until answer(user) is called. */
function heldGroup(): ProviderGroup & { seen: string[]; answer(user: string): void } {
  const pending = new Map<string, (v: unknown) => void>()
  return {
    seen: [],
    call(_method, args) {
      const user = args[1] as string
      this.seen.push(user)
      return new Promise((resolve) => pending.set(user, resolve))
    },
    providerMethods: () => ['checkPassword'],
    noticeChanges: () => Promise.resolve(),
    answer(user) {
      const resolve = pending.get(user)
      assert.ok(resolve, `${user} reached the group`)
      resolve(true)
    },
  }
}

/** Lets settled promises run their continuations. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

async function started(group: ProviderGroup, concurrency: number, queueTimeoutMs: number): Promise<GroupProvider> {
  const p = new GroupProvider('g', group, { callTimeoutMs: 10_000, concurrency, queueTimeoutMs })
  await p.start()
  return p
}

test('calls over providerConcurrency wait, and each freed slot goes to the longest waiter', async () => {
  const group = heldGroup()
  const p = await started(group, 2, 10_000)
  const results = ['a', 'b', 'c', 'd', 'e'].map((u) => p.checkPassword!(ctx, u, 'pw'))
  await settle()
  assert.deepEqual(group.seen, ['a', 'b'])
  assert.deepEqual(p.load, { inflight: 2, queued: 3 })

  group.answer('b')
  await settle()
  assert.deepEqual(group.seen, ['a', 'b', 'c'])
  assert.deepEqual(p.load, { inflight: 2, queued: 2 })

  group.answer('a')
  group.answer('c')
  await settle()
  assert.deepEqual(group.seen, ['a', 'b', 'c', 'd', 'e'])
  assert.deepEqual(p.load, { inflight: 2, queued: 0 })

  group.answer('d')
  group.answer('e')
  assert.deepEqual(await Promise.all(results), [true, true, true, true, true])
  assert.deepEqual(p.load, { inflight: 0, queued: 0 })
})

test('a call waiting past providerQueueTimeout fails GH_ERR_PROVIDER_BUSY with Retry-After and never reaches the group', async () => {
  const group = heldGroup()
  const p = await started(group, 1, 20)
  const first = p.checkPassword!(ctx, 'a', 'pw')
  await assert.rejects(p.checkPassword!(ctx, 'b', 'pw'), (err: Error & { code?: string; retryAfter?: number }) => {
    assert.equal(err.code, 'GH_ERR_PROVIDER_BUSY')
    assert.equal(err.retryAfter, 1)
    return true
  })
  assert.deepEqual(p.load, { inflight: 1, queued: 0 })
  group.answer('a')
  assert.equal(await first, true)
  await settle()
  assert.deepEqual(group.seen, ['a'])
  assert.deepEqual(p.load, { inflight: 0, queued: 0 })
})

test('close() fails the waiting calls GH_ERR_PROVIDER_UNAVAILABLE, the group never sees them, and the call in flight ends', async () => {
  const group = heldGroup()
  const p = await started(group, 1, 10_000)
  const first = p.checkPassword!(ctx, 'a', 'pw')
  const waiting = [p.checkPassword!(ctx, 'b', 'pw'), p.checkPassword!(ctx, 'c', 'pw')]
  await settle()
  p.close()
  for (const w of waiting)
    await assert.rejects(w, (err: Error & { code?: string }) => err.code === 'GH_ERR_PROVIDER_UNAVAILABLE')
  group.answer('a')
  assert.equal(await first, true)
  await settle()
  assert.deepEqual(group.seen, ['a'])
  assert.deepEqual(p.load, { inflight: 0, queued: 0 })
})
