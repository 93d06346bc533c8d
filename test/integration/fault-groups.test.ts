/**
 * Fault injection on daemon groups through a real gateway: an app that cannot load at start
 * (clear error, nothing left running), a broken app or provider module deployed over a running
 * group (the old processes keep serving, a log line says why), and daemon processes killed with
 * SIGKILL under load (errors bounded by what was in flight, then full recovery).
 * Every process is found by PID from the supervisor's status; tests clean up after themselves.
 */
import { describe, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { utimesSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { alive, eventually } from '../fixtures/apps/harness.js'
import { startGateway, tempDir, writeFile, type TestGateway } from '../helpers/gateway.js'

const ACCOUNTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'group-providers', 'accounts.ts')
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`

function writeApp(path: string, version: string): void {
  writeFileSync(
    path,
    `export default (req, res) => { res.setHeader('content-type', 'text/plain'); res.end('${version} ' + process.pid) }\n`,
  )
  bump(path)
}

/** A later mtime than any before, so the touch watcher sees a change even within one second. */
function bump(path: string): void {
  const later = new Date(Date.now() + Math.floor(Math.random() * 1000) + 2000)
  utimesSync(path, later, later)
}

function readyPids(gw: TestGateway, group: string): number[] {
  return (gw.gw.supervisor!.status().find((g) => g.name === group)?.processes ?? [])
    .filter((p) => p.state === 'ready')
    .map((p) => p.pid as number)
}

/** PIDs of processes whose command line mentions `needle` (the test's private directory). */
function processesMentioning(needle: string): number[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' })
  return out
    .split('\n')
    .filter((l) => l.includes(needle) && !l.includes('ps -eo'))
    .map((l) => Number(l.trim().split(/\s+/)[0]))
}

async function groupGateway(
  t: TestContext,
  group: Record<string, unknown>,
  routes: unknown[],
): Promise<{ gw: TestGateway; dir: string }> {
  const { dir, cleanup } = tempDir('gh-fault-group-')
  t.after(cleanup)
  const resolved =
    typeof group.app === 'function' ? { ...group, app: (group.app as (d: string) => string)(dir) } : group
  const gw = await startGateway(
    { throttle: { enabled: false }, groups: { web: { cwd: dir, ...resolved } }, routes },
    dir,
  )
  t.after(() => gw.close())
  return { gw, dir }
}

describe('daemon group faults', { skip: process.platform === 'win32' }, () => {
  test('an app that fails to load at start: the gateway refuses to start with an error naming the cause, and no process is left', async (t) => {
    const { dir, cleanup } = tempDir('gh-fault-start-')
    t.after(cleanup)
    const app = writeFile(dir, 'app.mjs', 'throw new Error("cannot connect to the orders database")\n')
    await assert.rejects(
      startGateway({ groups: { web: { app, cwd: dir } }, routes: [{ path: '/web', group: 'web' }] }, dir),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'GH_ERR_GROUP_FAILED')
        assert.equal(
          err.message,
          'group web failed: process failed to start: Error: cannot connect to the orders database',
        )
        return true
      },
    )
    await eventually('no daemon process left for the failed group', () => processesMentioning(dir).length === 0, 5_000)
  })

  test('a broken app deployed over a running group: the old processes keep serving through the front, with a log line', async (t) => {
    const { gw, dir } = await groupGateway(
      t,
      {
        app: (d: string) => {
          const p = join(d, 'app.mjs')
          writeApp(p, 'v1')
          return p
        },
      },
      [{ path: '/', group: 'web' }],
    )
    const app = join(dir, 'app.mjs')
    const first = await (await fetch(`${gw.url}/x`)).text()
    assert.match(first, /^v1 \d+$/)
    writeFileSync(app, 'throw new Error("half-deployed release")\n')
    bump(app)
    const during = await fetch(`${gw.url}/x`)
    assert.equal(during.status, 200)
    assert.equal(await during.text(), first, 'served by the same old process')
    await eventually('the failed reload is logged', () =>
      gw.logs.some((l) => l.includes('reload failed: new processes did not start; the running ones keep serving')),
    )
    writeApp(app, 'v2')
    assert.match(await (await fetch(`${gw.url}/x`)).text(), /^v2 \d+$/)
  })

  test('a corrupted provider module on group reload: logins keep passing on the old processes, and a fixed one takes over', async (t) => {
    const { dir, cleanup } = tempDir('gh-fault-provider-')
    t.after(cleanup)
    writeFileSync(
      join(dir, 'users.json'),
      JSON.stringify({ users: { alice: { password: 'alice-pw', groups: ['staff'] } } }),
    )
    const provider = writeFile(dir, 'provider.ts', `export { default } from ${JSON.stringify(ACCOUNTS)}\n`)
    const app = join(dir, 'app.mjs')
    writeApp(app, 'acct')
    const gw = await startGateway(
      {
        throttle: { enabled: false },
        groups: { accounts: { app, provider, cwd: dir, providerOptions: { usersFile: 'users.json' } } },
        routes: [{ path: '/acct', group: 'accounts', auth: { realm: 'Accounts', provider: 'accounts', cache: false } }],
      },
      dir,
    )
    t.after(() => gw.close())
    const login = () => fetch(`${gw.url}/acct/x`, { headers: { authorization: basic('alice', 'alice-pw') } })
    const before = await login()
    assert.equal(before.status, 200)
    const [pid] = readyPids(gw, 'accounts')
    writeFileSync(provider, 'throw new Error("provider module half-written")\n')
    bump(provider)
    const during = await login()
    assert.equal(during.status, 200, 'the old processes keep answering logins')
    assert.deepEqual(readyPids(gw, 'accounts'), [pid])
    assert.ok(gw.logs.some((l) => l.includes('reload failed')))
    assert.equal((await fetch(`${gw.url}/acct/x`, { headers: { authorization: basic('alice', 'wrong') } })).status, 401)
    writeFileSync(provider, `export { default } from ${JSON.stringify(ACCOUNTS)}\n`)
    bump(provider)
    assert.equal((await login()).status, 200)
    assert.notDeepEqual(readyPids(gw, 'accounts'), [pid], 'the fixed provider runs in new processes')
  })

  test('kill -9 of daemon processes under load: failures bounded by the requests in flight, then every request passes again', async (t) => {
    const { gw } = await groupGateway(
      t,
      {
        app: (d: string) => {
          const p = join(d, 'app.mjs')
          writeApp(p, 'load')
          return p
        },
        processes: 2,
      },
      [{ path: '/', group: 'web' }],
    )
    const CONCURRENCY = 8
    const PER_WORKER = 60
    let done = 0
    const statuses: number[] = []
    let killed: number[] = []
    const worker = async (): Promise<void> => {
      for (let i = 0; i < PER_WORKER; i++) {
        try {
          const res = await fetch(`${gw.url}/x`)
          await res.arrayBuffer()
          statuses.push(res.status)
        } catch {
          statuses.push(0)
        }
        done++
        if (killed.length === 0 && done >= (CONCURRENCY * PER_WORKER) / 3) {
          killed = readyPids(gw, 'web')
          for (const pid of killed) process.kill(pid, 'SIGKILL')
        }
      }
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, worker))
    assert.equal(killed.length, 2)
    for (const pid of killed) await eventually(`killed process ${pid} is gone`, () => !alive(pid), 5_000)
    const failed = statuses.filter((s) => s !== 200)
    assert.equal(statuses.length, CONCURRENCY * PER_WORKER)
    assert.ok(
      failed.every((s) => s === 502 || s === 503),
      `only 502/503 while the group was down, got ${JSON.stringify([...new Set(failed)])}`,
    )
    // Bounded: the requests in flight at the kill, plus those arriving before a respawn answers (503, Retry-After).
    assert.ok(failed.length < statuses.length / 2, `${failed.length} of ${statuses.length} failed`)
    await eventually(
      'the group is back to 2 ready processes',
      () => readyPids(gw, 'web').filter((p) => !killed.includes(p)).length === 2,
    )
    const after = await Promise.all(Array.from({ length: 20 }, async () => (await fetch(`${gw.url}/x`)).status))
    assert.deepEqual(new Set(after), new Set([200]))
    assert.ok(gw.logs.some((l) => l.includes('daemon process exited; respawning') && l.includes('SIGKILL')))
  })
})
