/**
 * What a daemon group may and may not see: per-group module resolution (two versions of one
 * package side by side), an allowlisted environment, a private socket directory, and a data
 * socket that only the front (holding the group secret) can talk to.
 */
import assert from 'node:assert/strict'
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { encodeFrame, Frame } from '../../src/ipc/protocol.js'
import { get, groupConfig, startSupervisor, tempDir } from '../fixtures/apps/harness.js'

function writeVersionedApp(root: string, version: string): string {
  const pkg = join(root, 'node_modules', 'leftpad-ish')
  mkdirSync(pkg, { recursive: true })
  writeFileSync(
    join(pkg, 'package.json'),
    JSON.stringify({ name: 'leftpad-ish', version, type: 'module', exports: './index.js' }),
  )
  writeFileSync(
    join(pkg, 'index.js'),
    `export const version = ${JSON.stringify(version)}\nexport default (s, n) => String(s).padStart(n, '${version[0]}')\n`,
  )
  const app = join(root, 'app.mjs')
  writeFileSync(
    app,
    "import leftpad, { version } from 'leftpad-ish'\nexport default (req, res) => res.end(version + ' ' + leftpad('x', 4))\n",
  )
  return app
}

/** Sends `frames` on a raw connection to `path`; resolves with whatever came back before close. */
function rawExchange(path: string, frames: Buffer[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(path)
    const got: Buffer[] = []
    socket.on('connect', () => {
      for (const f of frames) socket.write(f)
    })
    socket.on('data', (c) => got.push(c))
    // The daemon may drop the connection before our writes finish: EPIPE/ECONNRESET is the refusal itself.
    socket.on('error', (err: NodeJS.ErrnoException) =>
      err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err),
    )
    socket.on('close', () => resolve(Buffer.concat(got)))
  })
}

describe('daemon group isolation', { skip: process.platform === 'win32' }, () => {
  test('two groups load two different versions of the same package, each from its own app root', async (t) => {
    const dir = tempDir(t)
    const one = join(dir, 'one')
    const two = join(dir, 'two')
    const appOne = writeVersionedApp(one, '1.0.0')
    const appTwo = writeVersionedApp(two, '2.0.0')
    const sup = await startSupervisor(t, [
      groupConfig('one', { app: appOne, cwd: one }),
      groupConfig('two', { app: appTwo, cwd: two }),
    ])
    assert.equal((await get(sup.group('one'), '/')).text, '1.0.0 111x')
    assert.equal((await get(sup.group('two'), '/')).text, '2.0.0 222x')
  })

  test('the app sees an allowlisted environment: no front secrets, no NODE_OPTIONS, HOME at its root, its own env', async (t) => {
    process.env.GATEHOUSE_TEST_SECRET = 'front-only-secret'
    process.env.NODE_OPTIONS = '--max-old-space-size=123'
    t.after(() => {
      delete process.env.GATEHOUSE_TEST_SECRET
      delete process.env.NODE_OPTIONS
    })
    const dir = tempDir(t)
    const sup = await startSupervisor(t, [groupConfig('env', { cwd: dir, env: { GROUP_VAR: 'mine' } })])
    const env = JSON.parse((await get(sup.group('env'), '/env')).text) as Record<string, unknown>
    assert.equal(env.secret, null)
    assert.equal(env.nodeOptions, null)
    assert.equal(env.home, dir)
    assert.equal(env.cwd, dir)
    assert.equal(env.groupVar, 'mine')
  })

  test('sockets live in a 0700 directory, are 0600, and vanish with the supervisor', async (t) => {
    const runtimeDir = join(tempDir(t), 'run')
    const sup = await startSupervisor(t, [groupConfig('perm', { processes: 2 })], { runtimeDir })
    assert.equal(statSync(runtimeDir).mode & 0o777, 0o700)
    const sockets = readdirSync(runtimeDir)
    assert.equal(sockets.length, 2)
    for (const s of sockets) {
      const st = statSync(join(runtimeDir, s))
      assert.ok(st.isSocket())
      assert.equal(st.mode & 0o777, 0o600)
    }
    await sup.close()
    assert.throws(() => statSync(runtimeDir), { code: 'ENOENT' })
  })

  test('a local client without the group secret is dropped before any request is read', async (t) => {
    const runtimeDir = join(tempDir(t), 'run')
    const sup = await startSupervisor(t, [groupConfig('secret')], { runtimeDir })
    const [name] = readdirSync(runtimeDir)
    const path = join(runtimeDir, name as string)
    const head = encodeFrame(
      Frame.HEAD,
      1,
      JSON.stringify({ method: 'GET', url: '/pid', headers: { 'x-remote-user': 'root' }, body: false }),
    )
    // No HELLO at all: the first frame is a forged request.
    assert.equal((await rawExchange(path, [head])).length, 0)
    // A wrong secret of the right length, then the request.
    assert.equal((await rawExchange(path, [encodeFrame(Frame.HELLO, 0, Buffer.alloc(32, 7)), head])).length, 0)
    // An empty HELLO.
    assert.equal((await rawExchange(path, [encodeFrame(Frame.HELLO, 0), head])).length, 0)
    // The front itself still works.
    assert.equal((await get(sup.group('secret'), '/')).text, 'hello')
  })
})
