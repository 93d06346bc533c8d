/**
 * env.changed(): how a provider tells the front its answers may differ now. The built-in file
 * providers call it once per successful re-read (never for the first read, never for a re-read
 * that failed); the loader always hands factories one; a ThreadProvider surfaces it from its
 * threads; the registry turns it into a reload notice (what empties the credential cache).
 */
import { describe, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Writable } from 'node:stream'
import createHtpasswdProvider from '../../providers/htpasswd/index.js'
import createHtdigestProvider from '../../providers/htdigest/index.js'
import type { AuthContext, Provider, ProviderEnv, ProviderLog } from '../../src/providers/contract.js'
import { loadProvider } from '../../src/providers/load-module.js'
import { ThreadProvider } from '../../src/providers/thread-pool.js'
import { ProviderRegistry } from '../../src/providers/registry.js'
import { parseConfig } from '../../src/config/parse.js'
import { createLogger } from '../../src/log.js'

const fixtures = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', 'fixtures', 'providers')
const ctx: AuthContext = {
  method: 'GET',
  path: '/',
  host: 'localhost',
  remoteAddress: '127.0.0.1',
  route: '/',
  realm: 'Office',
  headers: {},
}
const quiet: ProviderLog = { info() {}, warn() {}, error() {} }
const sha = (pw: string) => `{SHA}${createHash('sha1').update(pw).digest('base64')}`
const ha1 = (user: string, pw: string) => createHash('md5').update(`${user}:Office:${pw}`).digest('hex')

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`gave up waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gh-changed-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** An env whose changed() counts its calls, and a log that records messages. */
function countingEnv(dir: string): { env: ProviderEnv; changes: () => number; warnings: string[] } {
  let n = 0
  const warnings: string[] = []
  const log: ProviderLog = { info() {}, warn: (msg) => void warnings.push(msg), error() {} }
  return { env: { baseDir: dir, name: 'p', log, changed: () => void n++ }, changes: () => n, warnings }
}

describe('env.changed() from the built-in file providers', () => {
  test('htpasswd: not called for the first read, called once the re-read is in force, not for a failed re-read', async (t) => {
    const dir = await tempDir(t)
    await writeFile(join(dir, 'users'), `alice:${sha('one')}\n`)
    const { env, changes, warnings } = countingEnv(dir)
    const p: Provider = await createHtpasswdProvider({ file: 'users', watchIntervalMs: 20 }, env)
    t.after(() => p.close?.())
    assert.equal(changes(), 0)

    await writeFile(join(dir, 'users.tmp'), `alice:${sha('two')}\n`)
    await rename(join(dir, 'users.tmp'), join(dir, 'users'))
    await until(() => changes() >= 1, 'a change report')
    // Reported after the swap: whoever reacts to it already sees the new contents.
    assert.equal(await p.checkPassword?.(ctx, 'alice', 'two'), true)

    const before = changes()
    await writeFile(join(dir, 'users'), 'this is not htpasswd\n')
    await until(() => warnings.some((w) => w.includes('could not be reloaded')), 'the warning about the bad file')
    assert.equal(changes(), before, 'a file that does not parse changes nothing')
    assert.equal(await p.checkPassword?.(ctx, 'alice', 'two'), true)
  })

  test('htpasswd: a re-read of the group file is reported too', async (t) => {
    const dir = await tempDir(t)
    await writeFile(join(dir, 'users'), `alice:${sha('one')}\n`)
    await writeFile(join(dir, 'groups'), 'staff: alice\n')
    const { env, changes } = countingEnv(dir)
    const p: Provider = await createHtpasswdProvider({ file: 'users', groupFile: 'groups', watchIntervalMs: 20 }, env)
    t.after(() => p.close?.())
    await writeFile(join(dir, 'groups'), 'staff: bob\n')
    await until(() => changes() >= 1, 'a change report')
    assert.deepEqual(await p.groupsForUser?.(ctx, 'alice'), [])
  })

  test('htdigest: a re-read of the file and of the group file are reported', async (t) => {
    const dir = await tempDir(t)
    await writeFile(join(dir, 'users'), `alice:Office:${ha1('alice', 'one')}\n`)
    await writeFile(join(dir, 'groups'), 'staff: alice\n')
    const { env, changes } = countingEnv(dir)
    const p: Provider = await createHtdigestProvider({ file: 'users', groupFile: 'groups', watchIntervalMs: 20 }, env)
    t.after(() => p.close?.())
    assert.equal(changes(), 0)
    await writeFile(join(dir, 'users'), `alice:Office:${ha1('alice', 'two')}\n`)
    await until(() => changes() >= 1, 'a change report for the file')
    assert.equal(await p.getRealmHash?.(ctx, 'alice', 'Office', 'MD5'), ha1('alice', 'two'))
    const before = changes()
    await writeFile(join(dir, 'groups'), 'staff: bob\n')
    await until(() => changes() > before, 'a change report for the group file')
  })

  test('a provider without env.changed (a host that has nothing to empty) still reloads', async (t) => {
    const dir = await tempDir(t)
    await writeFile(join(dir, 'users'), `alice:${sha('one')}\n`)
    const p: Provider = await createHtpasswdProvider(
      { file: 'users', watchIntervalMs: 20 },
      { baseDir: dir, name: 'p', log: quiet },
    )
    t.after(() => p.close?.())
    await writeFile(join(dir, 'users'), `alice:${sha('two')}\n`)
    await until(async () => (await p.checkPassword?.(ctx, 'alice', 'two')) === true, 'the new password')
  })
})

describe('env.changed() through the loader, the threads and the registry', () => {
  test('the loader hands a factory a changed() even when the host gave none', async () => {
    const p = await loadProvider('./changes.ts', {}, { baseDir: fixtures, name: 'p', log: quiet })
    assert.equal(await p.checkPassword?.(ctx, 'reload', 'x'), true)
  })

  test("a ThreadProvider reports each thread's changed() to its listeners, with the thread", async (t) => {
    const p = new ThreadProvider({
      name: 'test',
      specifier: './changes.ts',
      options: {},
      baseDir: fixtures,
      threads: 1,
      log: quiet,
    })
    t.after(() => p.close())
    const seen: number[] = []
    p.onChanged(({ thread }) => void seen.push(thread))
    await p.start()
    assert.equal(await p.checkPassword?.(ctx, 'nobody', 'x'), null)
    assert.deepEqual(seen, [])
    assert.equal(await p.checkPassword?.(ctx, 'reload', 'x'), true)
    // The change is posted before the answer, on the same port: it has arrived by now.
    assert.deepEqual(seen, [0])
  })

  test("the registry turns a provider's change into a reload notice for it and logs it", async (t) => {
    const lines: string[] = []
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk))
        cb()
      },
    })
    const config = parseConfig(
      {
        listen: { host: '127.0.0.1', port: 0 },
        providers: { mod: { type: 'module', module: './changes.ts', threads: 1 } },
        routes: [
          { path: '/', upstream: 'http://127.0.0.1:9', auth: { scheme: 'basic', realm: 'Office', provider: 'mod' } },
        ],
      },
      { baseDir: fixtures },
    )
    const registry = new ProviderRegistry(config, createLogger('info', sink))
    t.after(() => registry.close())
    const reloaded: string[] = []
    registry.onReload((name) => void reloaded.push(name))
    await registry.start()
    const [np] = registry.chain(['mod'])
    assert.equal(await np!.provider.checkPassword?.(ctx, 'reload', 'x'), true)
    assert.deepEqual(reloaded, ['mod'])
    const logged = lines
      .map((l) => JSON.parse(l) as { msg: string; provider?: string; thread?: number })
      .filter((l) => l.msg === 'provider data changed: cache entries dropped')
    assert.equal(logged.length, 1)
    assert.equal(logged[0]!.provider, 'mod')
    assert.equal(logged[0]!.thread, 0)
  })
})
