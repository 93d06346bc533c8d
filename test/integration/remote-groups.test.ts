/**
 * Daemon groups shared with front workers: this test process is the primary (a real Supervisor
 * with real Node daemon groups, and a GroupHost), and a real forked child is a front worker
 * (test/fixtures/cluster/remote-groups-child.ts) that reaches the groups through RemoteGroups
 * over a Channel on its IPC pipe, connecting to the daemon processes itself.
 */
import assert from 'node:assert/strict'
import { fork, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test, type TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { GroupConfig } from '../../src/config/types.js'
import { Channel } from '../../src/cluster/channel.js'
import { GroupHost } from '../../src/cluster/group-host.js'
import type { Supervisor, SupervisorOptions } from '../../src/daemon/supervisor.js'
import type { Outcome } from '../fixtures/cluster/remote-groups-child.js'
import { PYTHON, skipWithoutPython } from '../helpers/python.js'
import {
  alive,
  eventually,
  get,
  groupConfig,
  pids,
  PROVIDER,
  silent,
  startSupervisor,
  tempDir,
} from '../fixtures/apps/harness.js'

const CHILD = fileURLToPath(new URL('../fixtures/cluster/remote-groups-child.ts', import.meta.url))
const ACCOUNTS = fileURLToPath(new URL('../fixtures/group-providers/accounts.ts', import.meta.url))
const WSGI_HELLO = fileURLToPath(new URL('../fixtures/wsgi/hello.py', import.meta.url))
const ctx = { method: 'GET', path: '/', host: 'h', remoteAddress: '127.0.0.1', route: '/', realm: 'r', headers: {} }

interface GroupEvent {
  type: 'reload' | 'changed'
  name: string
  reason?: string
}

interface Worker {
  sup: Supervisor
  channel: Channel
  child: ChildProcess
  events: GroupEvent[]
  /** Bytes of every message the primary received from the worker over the IPC pipe. */
  ipcBytes(): number
  get(group: string, url: string): Promise<Outcome>
  many(group: string, url: string, count: number, concurrency: number): Promise<Outcome[]>
}

async function startWorker(
  t: TestContext,
  groups: GroupConfig[],
  workers = 1,
  opts: Partial<SupervisorOptions> = {},
): Promise<Worker> {
  const sup = await startSupervisor(t, groups, opts)
  const host = new GroupHost(sup, silent)
  const child = fork(CHILD, [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, GH_TEST_WORKERS: String(workers) },
  })
  t.after(() => {
    host.close()
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let received = 0
  child.on('message', (m) => {
    received += Buffer.byteLength(JSON.stringify(m))
  })
  const channel = new Channel(child)
  const events: GroupEvent[] = []
  channel.on('event', (e) => events.push(e as GroupEvent))
  const started = new Promise<void>((resolve, reject) => {
    channel.on('ready', () => resolve())
    channel.on('failed', (e) => reject(new Error(`worker failed to start: ${(e as { message: string }).message}`)))
  })
  host.attach(channel)
  await started
  return {
    sup,
    channel,
    child,
    events,
    ipcBytes: () => received,
    get: (group, url) => channel.request<Outcome>('get', { group, url }, 30_000),
    many: (group, url, count, concurrency) =>
      channel.request<Outcome[]>('many', { group, url, count, concurrency }, 60_000),
  }
}

/** The pid a /pid or /slow answer names. */
function pidOf(o: Outcome): number {
  assert.equal(o.ok, true, `expected an answer, got ${JSON.stringify(o)}`)
  return Number((o.text ?? '').split(' ').at(-1))
}

function served(sup: Supervisor, group: string): number {
  return (sup.status().find((g) => g.name === group)?.processes ?? []).reduce((n, p) => n + p.served, 0)
}

describe('daemon groups reached from a front worker', { skip: process.platform === 'win32' }, () => {
  test('requests and provider calls go from the worker to the processes and back, bodies streamed both ways, none through the primary', async (t) => {
    const w = await startWorker(t, [groupConfig('app', { processes: 2, provider: PROVIDER })])
    const pid = pidOf(await w.get('app', '/pid'))
    assert.ok(pids(w.sup, 'app').includes(pid))

    const blocks = 48
    const expected = createHash('sha256')
    for (let i = 0; i < blocks; i++) expected.update(Buffer.alloc(65536, `block ${i} `))
    const before = w.ipcBytes()
    const echoed = await w.channel.request<{ status: number; bytes: number; sha256: string }>(
      'echo',
      { group: 'app', blocks },
      30_000,
    )
    assert.deepEqual(echoed, { status: 200, bytes: blocks * 65536, sha256: expected.digest('hex') })
    // 3 MiB went up and came back; what the primary heard of it is a reply and a served note or two.
    assert.ok(w.ipcBytes() - before < 4096, `the primary received ${w.ipcBytes() - before} bytes`)

    assert.equal(
      await w.channel.request('call', { group: 'app', method: 'checkPassword', args: [ctx, 'alice', 'wonderland'] }),
      true,
    )
    assert.equal(
      await w.channel.request('call', { group: 'app', method: 'checkPassword', args: [ctx, 'alice', 'nope'] }),
      false,
    )
    assert.equal(
      await w.channel.request('call', { group: 'app', method: 'checkPassword', args: [ctx, 'bob', 'x'] }),
      null,
    )
    assert.ok(((await w.channel.request('provider-methods', { group: 'app' })) as string[]).includes('checkPassword'))
    // The worker's served notes reach the primary: its processes count the worker's 2 requests.
    await eventually('served counts reported', () => served(w.sup, 'app') === 2)
  })

  test("a killed process is replaced; of the worker's requests only those in flight on it fail, with 502", async (t) => {
    const w = await startWorker(t, [groupConfig('app', { processes: 2 })])
    const initial = pids(w.sup, 'app')
    const victim = initial[0] as number
    const lanes = 4
    const run = w.many('app', '/slow?ms=20', 150, lanes)
    await eventually('the worker is under way', () => served(w.sup, 'app') >= 20)
    process.kill(victim, 'SIGKILL')
    const results = await run
    const failed = results.filter((r) => !r.ok)
    // At most the lanes that were waiting on the killed process: each lane has one request at a time.
    assert.ok(failed.length <= lanes, `${failed.length} failures`)
    for (const f of failed) assert.deepEqual(f, { ok: false, code: 'GH_ERR_GROUP_FAILED', statusCode: 502 })
    assert.ok(
      results.slice(-20).every((r) => r.ok),
      'the last requests were all answered',
    )
    const replacement = await eventually('the worker reaches the replacement', async () => {
      const p = pidOf(await w.get('app', '/pid'))
      return !initial.includes(p) && p
    })
    assert.ok(pids(w.sup, 'app').includes(replacement))
    assert.equal(alive(victim), false)
  })

  test('a rolling reload moves the worker onto the new processes and the old ones drain its request first', async (t) => {
    const w = await startWorker(t, [groupConfig('app', { processes: 2 })])
    const old = pids(w.sup, 'app')
    const slow = w.get('app', '/slow?ms=1500')
    await eventually('the slow request dispatched', () => served(w.sup, 'app') === 1)
    assert.equal(await w.sup.reload('app', 'test reload'), true)
    const fresh = pids(w.sup, 'app')
    assert.equal(
      fresh.some((p) => old.includes(p)),
      false,
    )
    const after = await w.many('app', '/pid', 10, 2)
    for (const r of after) assert.ok(fresh.includes(pidOf(r)), `answered by ${r.text}, not a new process`)
    const s = await slow
    assert.ok(old.includes(pidOf(s)), 'the request in flight finished on its old process')
    await eventually('old processes stopped', () => old.every((p) => !alive(p)))
    await eventually('the reload event reached the worker', () =>
      w.events.some((e) => e.type === 'reload' && e.name === 'app' && e.reason === 'test reload'),
    )
  })

  test('maxRequests counts the requests the worker dispatched: a process is recycled after exactly that many', async (t) => {
    const w = await startWorker(t, [groupConfig('app', { maxRequests: 5 })])
    const first = pids(w.sup, 'app')[0] as number
    const results = await w.many('app', '/pid', 12, 1)
    const seen = results.map(pidOf)
    assert.deepEqual(seen.slice(0, 5), Array(5).fill(first))
    assert.equal(new Set(seen.slice(5, 10)).size, 1)
    assert.notEqual(seen[5], first)
    assert.notEqual(seen[10], seen[5])
    await eventually('recycled processes stopped', () => !alive(first) && !alive(seen[5] as number))
    assert.equal(w.sup.status()[0]?.recycled, 2)
  })

  test('inactivityTimeout spares a process while the worker has a request on it, and restarts it once idle', async (t) => {
    const w = await startWorker(t, [groupConfig('app', { inactivityTimeoutMs: 2000 })])
    const recycled = (): number => w.sup.status()[0]?.recycled ?? 0
    const slow = w.get('app', '/slow?ms=4000')
    // The process may have idled out while the worker started; from the note of this request on,
    // the worker calls it busy every 100 ms until the answer is in.
    await eventually('the slow request reported', () => served(w.sup, 'app') === 1)
    const serving = pids(w.sup, 'app')[0] as number
    const before = recycled()
    assert.equal(pidOf(await slow), serving)
    assert.equal(recycled(), before, 'restarted while the worker was waiting for it')
    await eventually('restarted once idle', () => recycled() === before + 1)
    await eventually('the idle process stopped', () => !alive(serving))
  })

  test("the changed event of a group's provider reaches the worker", async (t) => {
    const dir = tempDir(t)
    const users = join(dir, 'users.json')
    writeFileSync(users, JSON.stringify({ users: { alice: { password: 'first' } } }))
    const w = await startWorker(t, [
      groupConfig('accounts', { provider: ACCOUNTS, cwd: dir, providerOptions: { usersFile: users, watch: true } }),
    ])
    const check = (password: string): Promise<unknown> =>
      w.channel.request('call', { group: 'accounts', method: 'checkPassword', args: [ctx, 'alice', password] })
    assert.equal(await check('first'), true)
    writeFileSync(users, JSON.stringify({ users: { alice: { password: 'second' } } }))
    await eventually('changed reached the worker', () =>
      w.events.some((e) => e.type === 'changed' && e.name === 'accounts'),
    )
    assert.equal(await check('second'), true)
    assert.equal(await check('first'), false)
  })

  test('with no live process the worker answers 503 GH_ERR_GROUP_UNAVAILABLE with Retry-After', async (t) => {
    const dir = tempDir(t)
    const marker = join(dir, 'crash-marker')
    const w = await startWorker(t, [groupConfig('down', { env: { CRASH_MARKER: marker }, queueTimeoutMs: 300 })])
    assert.equal((await w.get('down', '/pid')).ok, true)
    writeFileSync(marker, 'x')
    const crashed = await w.get('down', '/crash')
    assert.deepEqual(crashed, { ok: false, code: 'GH_ERR_GROUP_FAILED', statusCode: 502 })
    await eventually(
      'no process left',
      () => w.sup.status()[0]?.processes.length === 0 && (w.sup.status()[0]?.restarts ?? 0) >= 2,
    )
    const refused = await eventually('the worker refuses', async () => {
      const o = await w.get('down', '/pid')
      return o.code === 'GH_ERR_GROUP_UNAVAILABLE' && o
    })
    assert.equal(refused.statusCode, 503)
    assert.ok(Number.isInteger(refused.retryAfter) && (refused.retryAfter as number) >= 1, `${refused.retryAfter}`)
  })

  test('a request from the worker past requestTimeout gets 504 and the primary kills and replaces the process', async (t) => {
    const w = await startWorker(t, [groupConfig('app', { requestTimeoutMs: 300 })])
    const [before] = pids(w.sup, 'app') as [number]
    assert.deepEqual(await w.get('app', '/hang'), { ok: false, code: 'GH_ERR_GROUP_TIMEOUT', statusCode: 504 })
    await eventually('the stuck process killed', () => !alive(before))
    const after = await eventually('the worker reaches the replacement', async () => {
      const o = await w.get('app', '/pid')
      return o.ok && pidOf(o) !== before && pidOf(o)
    })
    assert.deepEqual(pids(w.sup, 'app'), [after])
  })

  test('touching the app file reloads the group although no request passes through the primary', async (t) => {
    const dir = tempDir(t)
    const marker = join(dir, 'reload-marker')
    writeFileSync(marker, 'x')
    const w = await startWorker(t, [groupConfig('app', { processes: 1, reloadOn: [marker] })])
    const [before] = pids(w.sup, 'app') as [number]
    const later = new Date(Date.now() + 5_000)
    utimesSync(marker, later, later)
    await eventually('the reload event reached the worker', () =>
      w.events.some((e) => e.type === 'reload' && e.reason === `touched ${marker}`),
    )
    const o = await w.get('app', '/pid')
    assert.notEqual(pidOf(o), before)
    assert.deepEqual(pids(w.sup, 'app'), [pidOf(o)])
  })

  test("the worker's noticeChanges reloads a touched group and resolves once the new processes serve", async (t) => {
    const dir = tempDir(t)
    const marker = join(dir, 'reload-marker')
    writeFileSync(marker, 'x')
    // The primary's own check comes only once a minute here: the worker's ask is what notices.
    const w = await startWorker(t, [groupConfig('app', { reloadOn: [marker] })], 1, { reloadCheckIntervalMs: 60_000 })
    const [before] = pids(w.sup, 'app') as [number]
    const later = new Date(Date.now() + 5_000)
    utimesSync(marker, later, later)
    await w.channel.request('notice-changes', { group: 'app' })
    assert.equal(w.sup.status()[0]?.lastReload?.reason, `touched ${marker}`)
    assert.equal(pids(w.sup, 'app').includes(before), false)
    assert.notEqual(pidOf(await w.get('app', '/pid')), before)
  })

  test('all processes busy in the worker makes the primary start one more, up to processes.max', async (t) => {
    const w = await startWorker(t, [groupConfig('app', { processes: 1, maxProcesses: 2, concurrency: 1 })])
    assert.equal(pids(w.sup, 'app').length, 1)
    const results = await w.many('app', '/slow?ms=200', 12, 2)
    assert.ok(results.every((r) => r.ok))
    await eventually('a second process', () => pids(w.sup, 'app').length === 2)
    assert.equal(w.sup.status()[0]?.spawned, 1)
  })

  test('each of N workers sends a process at most ceil(concurrency / N) requests at once; the rest wait, then 503 busy', async (t) => {
    const w = await startWorker(t, [groupConfig('app', { concurrency: 2, queueTimeoutMs: 300 })], 2)
    const slow = w.get('app', '/slow?ms=3000')
    await eventually('the slow request dispatched', () => served(w.sup, 'app') === 1)
    const refused = await w.get('app', '/pid')
    assert.deepEqual(refused, { ok: false, code: 'GH_ERR_GROUP_BUSY', statusCode: 503, retryAfter: 1 })
    assert.equal((await slow).ok, true)
  })

  test('a group removed by the primary is let go by the worker after its request there is over', async (t) => {
    const w = await startWorker(t, [groupConfig('keep'), groupConfig('gone')])
    const [gonePid] = pids(w.sup, 'gone') as [number]
    const slow = w.get('gone', '/slow?ms=800')
    await eventually('the slow request dispatched', () => served(w.sup, 'gone') === 1)
    await w.sup.remove('gone')
    assert.equal(pidOf(await slow), gonePid)
    assert.equal(alive(gonePid), false)
    assert.deepEqual(await w.get('gone', '/pid'), { ok: false, code: 'GH_ERR_OPT_INVALID', statusCode: 500 })
    assert.equal((await w.get('keep', '/pid')).ok, true)
  })

  test(
    'a WSGI group answers the worker over its own connection while the primary keeps its own',
    { skip: skipWithoutPython() },
    async (t) => {
      const w = await startWorker(t, [
        groupConfig('py', {
          kind: 'python',
          app: WSGI_HELLO,
          provider: WSGI_HELLO,
          python: PYTHON,
          pythonPath: [],
          threads: 2,
          concurrency: 2,
        }),
      ])
      const [fromWorker, fromPrimary] = await Promise.all([w.get('py', '/'), get(w.sup.group('py'), '/')])
      assert.deepEqual(fromWorker, { ok: true, status: 200, text: 'hello -' })
      assert.equal(fromPrimary.text, 'hello -')
      const check = (password: string): Promise<unknown> =>
        w.channel.request('call', { group: 'py', method: 'checkPassword', args: [ctx, 'bench', password] })
      assert.equal(await check('bench'), true)
      assert.equal(await check('wrong'), false)
    },
  )
})
