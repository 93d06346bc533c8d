import { describe, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import bcrypt from 'bcryptjs'
import { UserStore } from '../../providers/sqlite/store.js'
import { ThreadProvider, type ThreadProviderOptions } from '../../src/providers/thread-pool.js'
import { isGatehouseError, type ErrorCode } from '../../src/errors.js'
import { testContext } from '../helpers/auth-context.js'

const fixtures = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', 'fixtures', 'providers')
const ctx = testContext
type Line = { level: string; msg: string; fields?: Record<string, unknown> }

async function pool(
  t: TestContext,
  specifier: string,
  opts: Partial<ThreadProviderOptions> = {},
): Promise<{ p: ThreadProvider; lines: Line[] }> {
  const lines: Line[] = []
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
    void lines.push({ level, msg, fields })
  const p = new ThreadProvider({
    name: 'test',
    specifier,
    options: {},
    baseDir: fixtures,
    threads: 1,
    log: { info: at('info'), warn: at('warn'), error: at('error') },
    ...opts,
  })
  t.after(() => p.close())
  await p.start()
  return { p, lines }
}

const rejectsWith = (code: ErrorCode, pattern?: RegExp) => (err: unknown) => {
  assert.ok(isGatehouseError(err, code), `expected ${code}, got ${String((err as Error)?.message)}`)
  if (pattern !== undefined) assert.match(err.message, pattern)
  return true
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`gave up waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe('ThreadProvider', () => {
  test('runs a provider in threads: methods, answers and logs come back', async (t) => {
    const { p, lines } = await pool(t, './allow.ts', { threads: 2, options: { greeting: 'hi' } })
    // Two calls at once: the second finds the first thread busy and starts the other.
    await Promise.all([p.allowAccess?.(ctx, '127.0.0.1'), p.allowAccess?.(ctx, '127.0.0.1')])
    await until(async () => lines.filter((l) => l.msg === 'allow provider loaded').length === 2, 'the second thread')
    assert.deepEqual([...p.methods].sort(), ['allowAccess', 'checkPassword', 'getRealmHash', 'groupsForUser'])
    assert.equal(await p.checkPassword?.(ctx, 'alice', 'pw'), true)
    assert.equal(
      await p.getRealmHash?.(ctx, 'alice', 'R', 'SHA-512-256'),
      createHash('sha512-256').update('alice:R:secret').digest('hex'),
    )
    assert.deepEqual(await p.groupsForUser?.(ctx, 'alice'), ['staff', 'test'])
    assert.equal(await p.allowAccess?.(ctx, '127.0.0.1'), true)
    assert.equal(await p.allowAccess?.(ctx, '10.1.1.1'), null)
    const loaded = lines.filter((l) => l.msg === 'allow provider loaded')
    assert.deepEqual(loaded.map((l) => l.fields?.thread).sort(), [0, 1])
    assert.equal(loaded[0]?.fields?.greeting, 'hi')
  })

  test('exposes only the methods the provider has, and none before start', async (t) => {
    const unstarted = new ThreadProvider({
      name: 'x',
      specifier: './deny.ts',
      options: {},
      baseDir: fixtures,
      log: { info() {}, warn() {}, error() {} },
    })
    assert.equal(unstarted.checkPassword, undefined)
    const { p } = await pool(t, './deny.ts')
    assert.deepEqual([...p.methods].sort(), ['allowAccess', 'checkPassword'])
    assert.equal(typeof p.checkPassword, 'function')
    assert.equal(p.getRealmHash, undefined)
    assert.equal(p.groupsForUser, undefined)
    assert.equal(await p.checkPassword?.(ctx, 'alice', 'pw'), null)
    assert.equal(await p.allowAccess?.(ctx, '127.0.0.1'), false)
  })

  test('a provider that throws gives GH_ERR_PROVIDER_FAILED without the arguments in the message', async (t) => {
    const { p } = await pool(t, './throws.ts')
    await assert.rejects(p.checkPassword!(ctx, 'alice', 'hunter2-secret'), (err: unknown) => {
      rejectsWith('GH_ERR_PROVIDER_FAILED', /^provider test failed: checkPassword threw Error$/)(err)
      assert.doesNotMatch(String((err as Error).message), /hunter2|alice/)
      return true
    })
    await assert.rejects(
      p.groupsForUser!(ctx, 'alice'),
      rejectsWith('GH_ERR_PROVIDER_FAILED', /^provider test failed: groupsForUser threw TypeError$/),
    )
  })

  test('a thread runs one call at a time by default: calls queue first come, first served', async (t) => {
    const { p } = await pool(t, './overlap.ts')
    const answers = await Promise.all(Array.from({ length: 6 }, () => p.checkPassword!(ctx, 'u', 'pw')))
    assert.deepEqual(new Set(answers), new Set(['most-at-once:1']))
  })

  test('with concurrency 3 a thread interleaves up to three calls, never more', async (t) => {
    const { p } = await pool(t, './overlap.ts', { concurrency: 3 })
    const answers = await Promise.all(Array.from({ length: 6 }, () => p.checkPassword!(ctx, 'u', 'pw')))
    assert.ok(answers.includes('most-at-once:3'), answers.join(' '))
    assert.ok(answers.every((a) => a !== 'most-at-once:4'))
  })

  test('a call that waits in the queue longer than queueTimeoutMs gets 503 GH_ERR_PROVIDER_BUSY', async (t) => {
    const { p } = await pool(t, './hangs.ts', { callTimeoutMs: 2000, queueTimeoutMs: 100 })
    const first = p.checkPassword!(ctx, 'a', 'pw').catch((e: unknown) => e)
    await assert.rejects(
      p.checkPassword!(ctx, 'b', 'pw'),
      rejectsWith('GH_ERR_PROVIDER_BUSY', /^provider test is busy: 1 calls in flight, waited \d+ ms for a slot$/),
    )
    assert.ok(isGatehouseError(await first, 'GH_ERR_PROVIDER_TIMEOUT'))
  })

  test('a call that hangs times out with GH_ERR_PROVIDER_TIMEOUT; the thread keeps answering', async (t) => {
    const { p } = await pool(t, './hangs.ts', { callTimeoutMs: 200 })
    await assert.rejects(
      p.checkPassword!(ctx, 'alice', 'pw'),
      rejectsWith('GH_ERR_PROVIDER_TIMEOUT', /^provider test did not answer within 200 ms$/),
    )
    assert.deepEqual(await p.groupsForUser?.(ctx, 'alice'), ['responsive'])
  })

  test('a thread with three calls past their timeout is replaced', async (t) => {
    const { p, lines } = await pool(t, './hangs.ts', { callTimeoutMs: 100 })
    for (let i = 0; i < 3; i++)
      await assert.rejects(p.checkPassword!(ctx, 'alice', 'pw'), rejectsWith('GH_ERR_PROVIDER_TIMEOUT'))
    assert.ok(lines.some((l) => l.level === 'warn' && /replacing it/.test(l.msg)))
    await until(async () => (await p.groupsForUser!(ctx, 'a').catch(() => null)) !== null, 'the new thread')
  })

  test('answers of the wrong type are GH_ERR_PROVIDER_BAD_RESULT, naming the kind but never the value', async (t) => {
    const { p } = await pool(t, './garbage.ts')
    for (const user of ['number', 'empty', 'object', 'undef', 'fn']) {
      await assert.rejects(
        p.checkPassword!(ctx, user, 'pw'),
        rejectsWith(
          'GH_ERR_PROVIDER_BAD_RESULT',
          /from checkPassword, expected true, false, null or a non-empty user name$/,
        ),
        user,
      )
    }
    await assert.rejects(
      p.getRealmHash!(ctx, 'short', 'R', 'MD5'),
      rejectsWith('GH_ERR_PROVIDER_BAD_RESULT', /returned a string of 6 characters from getRealmHash/),
    )
    await assert.rejects(
      p.getRealmHash!(ctx, 'long', 'R', 'MD5'),
      (err: unknown) => rejectsWith('GH_ERR_PROVIDER_BAD_RESULT')(err) && !/not hex/.test((err as Error).message),
    )
    await assert.rejects(
      p.groupsForUser!(ctx, 'x'),
      rejectsWith('GH_ERR_PROVIDER_BAD_RESULT', /expected an array of strings/),
    )
    await assert.rejects(
      p.allowAccess!(ctx, '127.0.0.1'),
      rejectsWith('GH_ERR_PROVIDER_BAD_RESULT', /expected true, false or null/),
    )
  })

  test('a thread that dies fails its calls with GH_ERR_PROVIDER_UNAVAILABLE, then is restarted', async (t) => {
    const { p, lines } = await pool(t, './exits.ts')
    await assert.rejects(
      p.checkPassword!(ctx, 'crash', 'pw'),
      rejectsWith('GH_ERR_PROVIDER_UNAVAILABLE', /thread exited with code 7/),
    )
    assert.ok(lines.some((l) => l.level === 'warn' && l.fields?.code === 7))
    await until(
      async () => (await p.checkPassword!(ctx, 'alice', 'pw').catch(() => false)) === true,
      'the restarted thread',
    )
  })

  test('a module that fails to load makes start() reject with GH_ERR_PROVIDER_LOAD and leaves no thread', async () => {
    const p = new ThreadProvider({
      name: 'bad',
      specifier: './load-fails.ts',
      options: {},
      baseDir: fixtures,
      threads: 2,
      log: { info() {}, warn() {}, error() {} },
    })
    await assert.rejects(
      p.start(),
      rejectsWith('GH_ERR_PROVIDER_LOAD', /load-fails\.ts: factory failed: cannot open the accounts database/),
    )
    assert.equal(p.state, 'closed')
    const missing = new ThreadProvider({
      name: 'bad',
      specifier: './nope.ts',
      options: {},
      baseDir: fixtures,
      log: { info() {}, warn() {}, error() {} },
    })
    await assert.rejects(missing.start(), rejectsWith('GH_ERR_PROVIDER_LOAD', /nope\.ts/))
  })

  test('close() fails calls in flight and later calls with GH_ERR_PROVIDER_UNAVAILABLE; it is idempotent', async (t) => {
    const { p } = await pool(t, './hangs.ts')
    const inFlight = p.checkPassword!(ctx, 'alice', 'pw')
    const closing = p.close()
    await assert.rejects(inFlight, rejectsWith('GH_ERR_PROVIDER_UNAVAILABLE'))
    await closing
    await p.close()
    assert.equal(p.state, 'closed')
    await assert.rejects(p.groupsForUser!(ctx, 'alice'), rejectsWith('GH_ERR_PROVIDER_UNAVAILABLE'))
  })

  test('runs the built-in sqlite provider (a native addon) in threads', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'gh-threads-sqlite-'))
    t.after(() => rm(dir, { recursive: true, force: true }))
    const store = UserStore.open(join(dir, 'users.sqlite'), { create: true, bcryptCost: 4 })
    store.addUser('alice', 'correct horse', { realms: ['R'] })
    store.addToGroup('alice', 'staff')
    store.close()
    const { p } = await pool(t, 'sqlite', { threads: 2, baseDir: dir, options: { database: 'users.sqlite' } })
    assert.deepEqual([...p.methods].sort(), ['checkPassword', 'findUserByHash', 'getRealmHash', 'groupsForUser'])
    assert.deepEqual(
      await Promise.all([
        p.checkPassword!(ctx, 'alice', 'correct horse'),
        p.checkPassword!(ctx, 'alice', 'no'),
        p.checkPassword!(ctx, 'bob', 'no'),
      ]),
      [true, false, null],
    )
    assert.equal(
      await p.getRealmHash!(ctx, 'alice', 'R', 'MD5'),
      createHash('md5').update('alice:R:correct horse').digest('hex'),
    )
    assert.deepEqual(await p.groupsForUser!(ctx, 'alice'), ['staff'])
  })

  test('the option checks name the option', () => {
    const base = {
      name: 'x',
      specifier: './deny.ts',
      options: {},
      baseDir: fixtures,
      log: { info() {}, warn() {}, error() {} },
    }
    assert.throws(() => new ThreadProvider({ ...base, threads: 0 }), rejectsWith('GH_ERR_OPT_INVALID', /threads/))
    assert.throws(
      () => new ThreadProvider({ ...base, callTimeoutMs: -1 }),
      rejectsWith('GH_ERR_OPT_INVALID', /callTimeoutMs/),
    )
    assert.throws(
      () => new ThreadProvider({ ...base, nice: 20 }),
      rejectsWith('GH_ERR_OPT_INVALID', /nice must be an integer from 0 to 19, got 20/),
    )
    for (const share of [0, -0.5, 1.5, Number.NaN]) {
      assert.throws(
        () => new ThreadProvider({ ...base, shareWhenBusy: share }),
        rejectsWith('GH_ERR_OPT_INVALID', /shareWhenBusy must be a number above 0 and at most 1/),
      )
    }
  })
})

describe('ThreadProvider keeps hashing off the main event loop', () => {
  /** Counts interval ticks that happen while at least one check is still pending. */
  async function ticksDuring(checks: Array<() => Promise<unknown>>): Promise<{ results: unknown[]; ticks: number }> {
    let pending = checks.length
    let ticks = 0
    const iv = setInterval(() => {
      if (pending > 0) ticks++
    }, 1)
    try {
      const results = await Promise.all(checks.map((c) => c().finally(() => pending--)))
      return { results, ticks }
    } finally {
      clearInterval(iv)
    }
  }

  test('five parallel synchronous bcrypt cost-12 checks leave the event loop ticking', async (t) => {
    const hash = bcrypt.hashSync('correct horse', 12)
    const { p } = await pool(t, './bcrypt-sync.ts', { threads: 2, options: { hash }, callTimeoutMs: 60_000 })
    const passwords = ['correct horse', 'wrong', 'correct horse', 'nope', 'correct horse']
    const { results, ticks } = await ticksDuring(passwords.map((pw) => () => p.checkPassword!(ctx, 'alice', pw)))
    assert.deepEqual(results, [true, false, true, false, true])
    assert.ok(ticks > 0, 'the main event loop ran while the checks were pending')
  })

  test('the built-in htpasswd provider checks cost-12 bcrypt in threads', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'gh-threads-'))
    t.after(() => rm(dir, { recursive: true, force: true }))
    const line = existsSync('/usr/bin/htpasswd')
      ? execFileSync('/usr/bin/htpasswd', ['-nbB', '-C', '12', 'alice', 'correct horse'], {
          stdio: ['ignore', 'pipe', 'ignore'],
        })
          .toString()
          .trim()
      : `alice:${bcrypt.hashSync('correct horse', 12)}`
    await writeFile(join(dir, 'users.htpasswd'), line + '\n')
    const { p } = await pool(t, 'htpasswd', {
      threads: 2,
      baseDir: dir,
      options: { file: 'users.htpasswd' },
      callTimeoutMs: 60_000,
    })
    const users = ['alice', 'alice', 'bob', 'alice', 'alice']
    const pws = ['correct horse', 'wrong', 'correct horse', 'correct horse', 'x']
    const { results, ticks } = await ticksDuring(users.map((u, i) => () => p.checkPassword!(ctx, u, pws[i] as string)))
    assert.deepEqual(results, [true, false, null, true, false])
    assert.ok(ticks > 0, 'the main event loop ran while the checks were pending')
  })
})

describe('native addons of provider threads', () => {
  test('starting a pool maps better-sqlite3 in the main thread, so a thread ending never unmaps it', () => {
    // A fresh process: this test file itself has loaded better-sqlite3 already.
    const script = `
      import { readFileSync } from 'node:fs'
      import { ThreadProvider } from ${JSON.stringify(fileURLToPath(new URL('../../src/providers/thread-pool.ts', import.meta.url)))}
      const mapped = () => readFileSync('/proc/self/maps', 'utf8').includes('better_sqlite3.node')
      const before = mapped()
      const log = { info() {}, warn() {}, error() {} }
      const p = new ThreadProvider({ name: 't', specifier: ${JSON.stringify(join(fixtures, 'allow.ts'))}, options: {}, baseDir: ${JSON.stringify(fixtures)}, threads: 1, log })
      await p.start()
      const after = mapped()
      await p.close()
      console.log(JSON.stringify({ before, after, stillAfterClose: mapped() }))
    `
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
    })
    assert.deepEqual(JSON.parse(out.trim().split('\n').pop()!), { before: false, after: true, stillAfterClose: true })
  })
})

describe("provider threads run below the front's CPU priority", () => {
  /** The nice value of each thread of this process, from /proc (field 19 of stat). */
  async function threadNices(): Promise<number[]> {
    const { readdir, readFile } = await import('node:fs/promises')
    const out: number[] = []
    for (const tid of await readdir('/proc/self/task')) {
      const stat = await readFile(`/proc/self/task/${tid}/stat`, 'utf8').catch(() => '')
      if (stat === '') continue
      out.push(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]))
    }
    return out
  }

  test(
    'each thread takes the configured nice value; the main thread keeps its own',
    { skip: process.platform !== 'linux' },
    async (t) => {
      const count = (nices: number[], n: number) => nices.filter((x) => x === n).length
      const before = await threadNices()
      const { p } = await pool(t, './allow.ts', { threads: 2, nice: 7 })
      await Promise.all([p.allowAccess?.(ctx, '127.0.0.1'), p.allowAccess?.(ctx, '127.0.0.1')])
      await until(async () => count(await threadNices(), 7) - count(before, 7) === 2, 'the second thread')
      const after = await threadNices()
      assert.equal(count(after, 7) - count(before, 7), 2, `nice values now: ${after.join(' ')}`)
      assert.equal((await import('node:os')).getPriority(), 0, 'the main thread is untouched')
    },
  )

  test("nice 0 leaves the threads at the front's priority", { skip: process.platform !== 'linux' }, async (t) => {
    const before = await threadNices()
    await pool(t, './allow.ts', { threads: 2, nice: 0 })
    const after = await threadNices()
    assert.equal(
      after.filter((x) => x !== 0).length,
      before.filter((x) => x !== 0).length,
      `nice values now: ${after.join(' ')}`,
    )
  })
})

describe(
  "provider threads rest while the front's event loop is busy (shareWhenBusy)",
  { skip: process.platform !== 'linux' },
  () => {
    /** Keeps this thread's event loop about 90% busy (9 ms of work every 10 ms) until the returned stop is called. */
    function busyLoop(): () => void {
      const iv = setInterval(() => {
        const end = performance.now() + 9
        while (performance.now() < end) {
          // the work of requests that are already authenticated
        }
      }, 10)
      return () => clearInterval(iv)
    }

    const idle = (ms: number) => new Promise((r) => setTimeout(r, ms))

    test('while the event loop is idle, a thread never rests, however much CPU its calls use', async (t) => {
      const { p } = await pool(t, './cpu-work.ts', { options: { ms: 100 }, shareWhenBusy: 0.25 })
      await idle(200)
      assert.deepEqual(await Promise.all([p.checkPassword!(ctx, 'a', 'pw'), p.checkPassword!(ctx, 'b', 'pw')]), [
        true,
        true,
      ])
      assert.equal(p.restedMs, 0)
    })

    test('while it is busy, a thread rests three times the CPU a call used (share 0.25) before it takes the next call', async (t) => {
      const { p } = await pool(t, './cpu-work.ts', { options: { ms: 100 }, shareWhenBusy: 0.25 })
      const stop = busyLoop()
      t.after(stop)
      await idle(150)
      const done: number[] = []
      const calls = ['a', 'b'].map((user) =>
        p.checkPassword!(ctx, user, 'pw').then((v) => {
          done.push(performance.now())
          return v
        }),
      )
      await calls[0]
      const rest = p.restedMs
      // 100 ms of CPU, counted in 10 ms ticks: between 90 and 110 ms, so 270 to 330 ms of rest.
      assert.ok(rest >= 270 && rest <= 330, `rested ${rest} ms after a call of 100 ms of CPU`)
      assert.deepEqual(await Promise.all(calls), [true, true])
      // The second call waited in the queue for the rest, then did its own 100 ms of work.
      assert.ok(
        done[1]! - done[0]! >= rest + 90,
        `the second call ended ${done[1]! - done[0]!} ms after the first, with ${rest} ms of rest between`,
      )
    })

    test('a rest lasts at most 1 s, however long the call was', async (t) => {
      const { p } = await pool(t, './cpu-work.ts', { options: { ms: 500 }, shareWhenBusy: 0.25, callTimeoutMs: 30_000 })
      const stop = busyLoop()
      t.after(stop)
      await idle(150)
      assert.equal(await p.checkPassword!(ctx, 'a', 'pw'), true)
      assert.equal(p.restedMs, 1000)
    })

    test('a rest ends early once the front is no longer busy: a call queued then starts at once', async (t) => {
      const { p } = await pool(t, './cpu-work.ts', { options: { ms: 300, stamp: true }, shareWhenBusy: 0.25 })
      const stop = busyLoop()
      t.after(stop)
      await idle(150)
      await p.checkPassword!(ctx, 'a', 'pw')
      const firstDone = Date.now()
      stop()
      const rest = p.restedMs
      // 300 ms of CPU: 900 ms of rest (the 1 s cap aside), far longer than what follows.
      assert.ok(rest >= 800, `rested ${rest} ms`)
      await idle(100)
      const began = Number(await p.checkPassword!(ctx, 'b', 'pw'))
      // Without the early end the second call would wait out the whole rest; any start before it proves the end.
      assert.ok(
        began - firstDone < rest,
        `the second call began ${began - firstDone} ms after the first ended, within a rest of ${rest} ms`,
      )
    })

    test('shareWhenBusy 1 never rests', async (t) => {
      const { p } = await pool(t, './cpu-work.ts', { options: { ms: 100 }, shareWhenBusy: 1 })
      const stop = busyLoop()
      t.after(stop)
      await idle(150)
      assert.deepEqual(await Promise.all([p.checkPassword!(ctx, 'a', 'pw'), p.checkPassword!(ctx, 'b', 'pw')]), [
        true,
        true,
      ])
      assert.equal(p.restedMs, 0)
    })
  },
)
