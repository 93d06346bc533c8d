import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { once } from 'node:events'
import { Channel } from '../../src/cluster/channel.js'

const child = fileURLToPath(new URL('../fixtures/cluster/channel-child.ts', import.meta.url))

async function start(t: { after(fn: () => void): void }): Promise<{ proc: ChildProcess; channel: Channel }> {
  const proc = fork(child, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  t.after(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
  })
  const channel = new Channel(proc)
  await new Promise<void>((resolve) => channel.on('ready', () => resolve()))
  return { proc, channel }
}

test('a request gets the reply the other process computed', async (t) => {
  const { channel } = await start(t)
  assert.equal(await channel.request('add', { a: 2, b: 40 }), 42)
  const many = await Promise.all(Array.from({ length: 50 }, (_, i) => channel.request('add', { a: i, b: 1 })))
  assert.deepEqual(
    many,
    Array.from({ length: 50 }, (_, i) => i + 1),
  )
})

test('a handler that throws rejects the request with its code and message', async (t) => {
  const { channel } = await start(t)
  await assert.rejects(channel.request('fail'), { code: 'GH_ERR_TEST_REFUSED', message: 'refused on purpose' })
  await assert.rejects(channel.request('no-such-topic'), { code: 'GH_ERR_IPC_PROTOCOL' })
})

test('both ends can ask: a request answered by a request back to the asker', async (t) => {
  const { channel } = await start(t)
  channel.handle('double', (n) => (n as number) * 2)
  assert.equal(await channel.request('ask-parent'), 42)
})

test('notes go both ways by topic', async (t) => {
  const { channel } = await start(t)
  const got = new Promise((resolve) => channel.on('echoed', resolve))
  assert.equal(channel.send('echo', { x: [1, 2, 3] }), true)
  assert.deepEqual(await got, { x: [1, 2, 3] })
})

test('a request without a reply in time fails with GH_ERR_IPC_TIMEOUT', async (t) => {
  const { channel } = await start(t)
  await assert.rejects(channel.request('slow', undefined, 100), { code: 'GH_ERR_IPC_TIMEOUT' })
})

test('pending requests fail with GH_ERR_IPC_CLOSED when the other process exits, and later ones at once', async (t) => {
  const { proc, channel } = await start(t)
  const pending = channel.request('slow', undefined, 10_000)
  channel.send('exit')
  await assert.rejects(pending, { code: 'GH_ERR_IPC_CLOSED' })
  await once(proc, 'exit').catch(() => {})
  assert.equal(channel.closed, true)
  await assert.rejects(channel.request('add', { a: 1, b: 1 }), { code: 'GH_ERR_IPC_CLOSED' })
  assert.equal(channel.send('echo', 1), false)
})
