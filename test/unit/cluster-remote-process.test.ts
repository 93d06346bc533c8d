/**
 * A front worker's connection to one daemon process (RemoteProcess) against a real WorkerServer
 * on a unix socket: the server is stopped (its connections dropped) and started again on the
 * same path, as a connection lost while the process lives.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test, type TestContext } from 'node:test'
import { pino } from 'pino'
import { RemoteProcess } from '../../src/cluster/remote-process.js'
import { WorkerServer } from '../../src/daemon/worker-server.js'

const silent = pino({ level: 'silent' })

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

function setup(t: TestContext): { path: string; secret: Buffer; serve: () => Promise<WorkerServer> } {
  const dir = mkdtempSync(join(tmpdir(), 'gh-remote-proc-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'w.sock')
  const secret = randomBytes(32)
  const servers: WorkerServer[] = []
  t.after(() => Promise.all(servers.map((s) => s.close(0))))
  // The retry timers do not hold the process open (a front worker has its listener for that): this stands in for it.
  const alive = setInterval(() => {}, 1_000)
  t.after(() => clearInterval(alive))
  return {
    path,
    secret,
    serve: async () => {
      rmSync(path, { force: true })
      const server = new WorkerServer({
        socketPath: path,
        secret,
        provider: null,
        app: (_req, res) => res.end(`served ${servers.length}`),
        onError: () => {},
      })
      await server.listen()
      servers.push(server)
      return server
    },
  }
}

async function get(p: RemoteProcess): Promise<string> {
  const res = await p.connection.request({ method: 'GET', url: '/', headers: {} }, null, { timeoutMs: 5_000 })
  let text = ''
  for await (const chunk of res.body) text += String(chunk)
  return text
}

describe('RemoteProcess', { skip: process.platform === 'win32' }, () => {
  test('connects again by itself after its connection closed, taking no work until the new one answered HELLO', async (t) => {
    const { path, secret, serve } = setup(t)
    const first = await serve()
    const changes: string[] = []
    const p: RemoteProcess = new RemoteProcess('g', 1, path, {
      secret,
      connectTimeoutMs: 5_000,
      log: silent,
      onChange: () => changes.push(p.state),
    })
    await p.connect()
    assert.equal(p.dispatchable, true)
    assert.equal(await get(p), 'served 1')

    await first.close(0)
    await until('the loss noticed', () => p.state === 'connecting')
    assert.equal(p.dispatchable, false, 'no work while no connection is proven')
    await serve()
    await until('connected again', () => p.state === 'ready')
    assert.equal(p.dispatchable, true)
    assert.equal(await get(p), 'served 2', 'over a connection to the server started since')
    assert.deepEqual(changes, ['ready', 'connecting', 'ready'])
  })

  test('keeps trying a socket that is not there yet: `connecting` settles after 5 failures, the attempts go on', async (t) => {
    const { path, secret, serve } = setup(t)
    const p = new RemoteProcess('g', 1, path, { secret, connectTimeoutMs: 5_000, log: silent, onChange: () => {} })
    await p.connect()
    assert.equal(p.state, 'connecting')
    await serve()
    await until('connected', () => p.state === 'ready')
    assert.equal(await get(p), 'served 1')
  })

  test('once it stops taking work (the table drains or drops it) a closed connection is not opened again', async (t) => {
    const { path, secret, serve } = setup(t)
    const first = await serve()
    const p = new RemoteProcess('g', 1, path, { secret, connectTimeoutMs: 5_000, log: silent, onChange: () => {} })
    await p.connect()
    p.stopTaking()
    assert.equal(p.state, 'draining')
    await first.close(0)
    await until('the loss noticed', () => p.state === 'closed')
    await serve()
    await p.connecting
    assert.equal(p.state, 'closed')
    assert.equal(p.connected, false)
  })

  test('stopping while waiting to try again ends the attempts at once', async (t) => {
    const { path, secret } = setup(t)
    const p = new RemoteProcess('g', 1, path, { secret, connectTimeoutMs: 5_000, log: silent, onChange: () => {} })
    await p.connect()
    assert.equal(p.state, 'connecting')
    p.destroy()
    assert.equal(p.state, 'closed')
    await p.connecting
  })
})
