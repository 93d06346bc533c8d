import { describe, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ThreadProvider, type ThreadProviderOptions } from '../../src/providers/thread-pool.js'
import { testContext } from '../helpers/auth-context.js'

const fixtures = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', 'fixtures', 'providers')
const ctx = testContext
type Line = { level: string; msg: string; fields?: Record<string, unknown> }

async function heldPool(
  t: TestContext,
  opts: Partial<ThreadProviderOptions> & { onlyOnce?: boolean } = {},
): Promise<{ p: ThreadProvider; lines: Line[]; release: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'gh-thread-growth-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const lines: Line[] = []
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
    void lines.push({ level, msg, fields })
  const { onlyOnce, ...rest } = opts
  const p = new ThreadProvider({
    name: 'held',
    specifier: './held.ts',
    options: { release: join(dir, 'release'), ...(onlyOnce ? { onlyOnce: join(dir, 'loaded-once') } : {}) },
    baseDir: fixtures,
    log: { info: at('info'), warn: at('warn'), error: at('error') },
    callTimeoutMs: 60_000,
    ...rest,
  })
  t.after(() => p.close())
  await p.start()
  return { p, lines, release: () => writeFile(join(dir, 'release'), '') }
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`gave up waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

const count = (lines: Line[], msg: string): number => lines.filter((l) => l.msg === msg).length

describe('provider threads start when calls need them', () => {
  test('start() loads the provider in one thread; calls one after another never start a second', async (t) => {
    const { p, lines, release } = await heldPool(t, { threads: 4 })
    assert.equal(count(lines, 'held provider loaded'), 1)
    assert.equal(p.threadsStarted, 1)
    await release()
    const answers = []
    for (let i = 0; i < 5; i++) answers.push(await p.checkPassword!(ctx, 'alice', 'pw'))
    assert.equal(new Set(answers).size, 1, answers.join(' '))
    assert.equal(count(lines, 'held provider loaded'), 1)
    assert.equal(p.threadsStarted, 1)
  })

  test('calls waiting while every thread is busy start threads up to `threads`, never more', async (t) => {
    const { p, lines, release } = await heldPool(t, { threads: 3 })
    const calls = Array.from({ length: 7 }, () => p.checkPassword!(ctx, 'alice', 'pw'))
    await until(() => count(lines, 'holding') === 3, 'three threads holding a call each')
    assert.equal(p.threadsStarted, 3)
    assert.equal(count(lines, 'held provider loaded'), 3)
    await release()
    const answers = await Promise.all(calls)
    assert.equal(new Set(answers).size, 3, answers.join(' '))
    assert.equal(count(lines, 'holding'), 7)
    assert.equal(count(lines, 'held provider loaded'), 3)
  })

  test('with concurrency 2, a second thread starts only once the first holds two calls', async (t) => {
    const { p, lines, release } = await heldPool(t, { threads: 2, concurrency: 2 })
    const first = [p.checkPassword!(ctx, 'a', 'pw'), p.checkPassword!(ctx, 'b', 'pw')]
    await until(() => count(lines, 'holding') === 2, 'two calls in the first thread')
    assert.equal(p.threadsStarted, 1)
    const third = p.checkPassword!(ctx, 'c', 'pw')
    await until(() => count(lines, 'holding') === 3, 'the third call in a second thread')
    assert.equal(p.threadsStarted, 2)
    await release()
    const answers = await Promise.all([...first, third])
    assert.equal(answers[0], answers[1])
    assert.notEqual(answers[2], answers[0])
  })

  test('a thread that cannot start when needed is logged; waiting calls are still answered by the live one', async (t) => {
    const { p, lines, release } = await heldPool(t, { threads: 2, onlyOnce: true })
    const calls = [p.checkPassword!(ctx, 'a', 'pw'), p.checkPassword!(ctx, 'b', 'pw')]
    await until(
      () => lines.some((l) => l.level === 'error' && l.msg === 'provider thread start failed'),
      'the failed start',
    )
    const failed = lines.find((l) => l.msg === 'provider thread start failed')
    assert.match(String(failed?.fields?.error), /cannot open the accounts database/)
    assert.equal(count(lines, 'holding'), 1)
    await release()
    const answers = await Promise.all(calls)
    assert.equal(answers[0], answers[1], 'both answered by the one thread that loaded')
  })
})

describe('threadsAtStart', () => {
  test('start() loads the provider in that many threads before any call', async (t) => {
    const { p, lines } = await heldPool(t, { threads: 3, threadsAtStart: 2 })
    assert.equal(p.threadsStarted, 2)
    assert.equal(count(lines, 'held provider loaded'), 2)
  })
})
