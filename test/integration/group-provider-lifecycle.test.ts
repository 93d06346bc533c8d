/**
 * A group provider across its group's life: the start-time Digest check, a reload (touching
 * the provider file) emptying the credential cache, and the group's processes killed and
 * respawned. Real gateway, real processes, loopback only; every process is stopped by PID.
 */
import { describe, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { utimesSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isGatehouseError } from '../../src/errors.js'
import { alive, eventually } from '../fixtures/apps/harness.js'
import { startGateway, tempDir, writeFile, type TestGateway } from '../helpers/gateway.js'

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'group-providers')
const APP = join(FIXTURES, 'app.ts')
const PROVIDER = join(FIXTURES, 'accounts.ts')
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`

interface Seen {
  status: number
  retryAfter: string | null
  body: { pid: number; user: string | null; provider: { calls: number } } | null
}

async function login(gw: TestGateway, user: string, password: string): Promise<Seen> {
  const res = await fetch(`${gw.url}/acct/`, { headers: { authorization: basic(user, password) } })
  const text = await res.text()
  return {
    status: res.status,
    retryAfter: res.headers.get('retry-after'),
    body: res.status === 200 ? (JSON.parse(text) as Seen['body']) : null,
  }
}

function users(dir: string, passwords: Record<string, string>): void {
  const doc = {
    users: Object.fromEntries(Object.entries(passwords).map(([u, password]) => [u, { password, groups: ['staff'] }])),
  }
  writeFileSync(join(dir, 'users.json'), JSON.stringify(doc))
}

/** A private copy of the provider module, so touching it reloads only this test's group. */
function providerCopy(dir: string): string {
  return writeFile(dir, 'provider.ts', `export { default } from ${JSON.stringify(PROVIDER)}\n`)
}

async function gateway(
  t: TestContext,
  auth: Record<string, unknown> = {},
  group: Record<string, unknown> = {},
): Promise<{ gw: TestGateway; dir: string; provider: string }> {
  const { dir, cleanup } = tempDir('gh-group-provider-life-')
  t.after(cleanup)
  users(dir, { alice: 'old-password' })
  const provider = providerCopy(dir)
  const gw = await startGateway(
    {
      groups: { accounts: { app: APP, provider, cwd: dir, providerOptions: { usersFile: 'users.json' }, ...group } },
      routes: [
        {
          path: '/acct',
          group: 'accounts',
          auth: { scheme: 'basic', realm: 'Accounts', provider: 'accounts', ...auth },
        },
      ],
    },
    dir,
  )
  t.after(() => gw.close())
  return { gw, dir, provider }
}

function readyPids(gw: TestGateway): number[] {
  const status = gw.gw.supervisor!.status().find((g) => g.name === 'accounts')!
  return status.processes.filter((p) => p.state === 'ready').map((p) => p.pid!)
}

describe('group provider lifecycle', { skip: process.platform === 'win32' }, () => {
  test('a Digest route whose group provider has no getRealmHash fails start, naming the route and the provider', async (t) => {
    const { dir, cleanup } = tempDir('gh-group-provider-nodigest-')
    t.after(cleanup)
    users(dir, { alice: 'pw' })
    await assert.rejects(
      startGateway(
        {
          groups: {
            basiconly: { app: APP, provider: PROVIDER, cwd: dir, providerOptions: { without: ['getRealmHash'] } },
          },
          routes: [
            {
              path: '/d',
              group: 'basiconly',
              auth: { scheme: ['digest', 'basic'], realm: 'R', provider: 'basiconly' },
            },
          ],
        },
        dir,
      ),
      (err) => {
        assert.ok(isGatehouseError(err, 'GH_ERR_CONFIG_INVALID'))
        assert.equal(
          err.message,
          'invalid configuration: routes[0].auth.scheme: provider basiconly has no getRealmHash, so it cannot serve Digest',
        )
        return true
      },
    )
  })

  test('touching the provider file reloads the group and empties its cache entries: the old password is refused at once, the new one works', async (t) => {
    const { gw, dir, provider } = await gateway(t)
    const first = await login(gw, 'alice', 'old-password')
    assert.equal(first.status, 200)
    const cached = await login(gw, 'alice', 'old-password')
    assert.equal(cached.status, 200)
    assert.equal(
      cached.body!.provider.calls,
      first.body!.provider.calls,
      'the second login was answered from the cache',
    )

    users(dir, { alice: 'new-password' })
    const later = new Date(Date.now() + 5_000)
    utimesSync(provider, later, later)

    const old = await login(gw, 'alice', 'old-password')
    assert.equal(old.status, 401)
    const fresh = await login(gw, 'alice', 'new-password')
    assert.equal(fresh.status, 200)
    assert.equal(fresh.body!.user, 'alice')
    assert.notEqual(fresh.body!.pid, first.body!.pid, 'served by the reloaded process')
    assert.ok(gw.logs.some((l) => l.includes('group reloaded') && l.includes('provider.ts')))
  })

  test('a group provider that calls env.changed() empties its cache entries without a reload: the old password is refused, the new one works', async (t) => {
    const { gw, dir } = await gateway(t, {}, { providerOptions: { usersFile: 'users.json', watch: true } })
    const first = await login(gw, 'alice', 'old-password')
    assert.equal(first.status, 200)
    const cached = await login(gw, 'alice', 'old-password')
    assert.equal(
      cached.body!.provider.calls,
      first.body!.provider.calls,
      'the second login was answered from the cache',
    )

    users(dir, { alice: 'new-password' })
    await eventually(
      'the old password refused',
      async () => (await login(gw, 'alice', 'old-password')).status === 401 || undefined,
      5_000,
    )
    const fresh = await login(gw, 'alice', 'new-password')
    assert.equal(fresh.status, 200)
    assert.equal(fresh.body!.pid, first.body!.pid, 'the same process: no reload')
    assert.equal(gw.gw.supervisor!.status().find((g) => g.name === 'accounts')!.reloads, 0)
    assert.ok(
      gw.logs.some(
        (l) => l.includes('provider data changed: cache entries dropped') && l.includes('"provider":"accounts"'),
      ),
    )
  })

  test("with the group's processes killed, logins fail closed with 503 and Retry-After, and recover once they are respawned", async (t) => {
    const { gw } = await gateway(t, { cache: false }, { processes: 2 })
    assert.equal((await login(gw, 'alice', 'old-password')).status, 200)
    const before = readyPids(gw)
    assert.equal(before.length, 2)
    for (const pid of before) process.kill(pid, 'SIGKILL')

    const down = await login(gw, 'alice', 'old-password')
    assert.equal(down.status, 503)
    assert.equal(down.retryAfter, '1')
    assert.ok(gw.logs.some((l) => l.includes('GH_ERR_PROVIDER_UNAVAILABLE')))

    const seen = new Set<number>()
    const back = await eventually('the group serves logins again', async () => {
      const r = await login(gw, 'alice', 'old-password')
      seen.add(r.status)
      return r.status === 200 ? r : undefined
    })
    assert.deepEqual(
      [...seen].filter((s) => s !== 503 && s !== 200),
      [],
      'nothing but 503 until the group is back',
    )
    assert.equal(before.includes(back.body!.pid), false)
    assert.equal(before.some(alive), false)
  })
})
