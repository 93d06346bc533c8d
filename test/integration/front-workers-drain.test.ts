/**
 * Workers that leave the shared listening socket (a configuration reload replaces them all)
 * lose no connection: neither one the primary was still handing over, nor one handed over
 * whose request had not arrived yet. Each request below opens its own connection, so every
 * reload finds some of them in exactly those states.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { tempDir, writeFile } from '../helpers/gateway.js'
import { alive, startWorkers, until } from '../helpers/workers-gateway.js'
import { startEchoUpstream } from '../helpers/echo-upstream.js'

const basic = `Basic ${Buffer.from('alice:wonderland').toString('base64')}`
/** A request not answered in this long is one the drain stranded (an answer takes milliseconds). */
const STRANDED_AFTER_MS = 5000

/** One request on a connection of its own: its status, or what went wrong. */
function freshGet(port: number): Promise<number | string> {
  return new Promise((resolve) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path: '/during', agent: false, headers: { authorization: basic } },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      },
    )
    req.setTimeout(STRANDED_AFTER_MS, () => {
      resolve('no answer')
      req.destroy()
    })
    req.on('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? err.message))
    req.end()
  })
}

test('reloads that replace every worker under load answer every request, none reset and none left hanging', async (t) => {
  const { dir, cleanup } = tempDir()
  execFileSync('htpasswd', ['-bcB', '-C', '4', `${dir}/users.htpasswd`, 'alice', 'wonderland'], { stdio: 'ignore' })
  const up = await startEchoUpstream()
  t.after(() => up.close())
  const raw = {
    providers: { users: { type: 'htpasswd', file: 'users.htpasswd' } },
    routes: [{ path: '/', upstream: up.url, auth: { scheme: 'basic', realm: 'workers', provider: 'users' } }],
  }
  const file = writeFile(dir, 'gatehouse.json', '{}')
  const w = await startWorkers(t, raw, dir, file)
  t.after(cleanup)
  // Each reload changes the realm, so the routes are rebuilt and a new set of workers replaces the old.
  const writeRealm = (realm: string) => {
    const next = structuredClone(raw)
    next.routes[0]!.auth.realm = realm
    const listen = { host: '127.0.0.1', port: w.port }
    const admin = { host: '127.0.0.1', port: Number(new URL(w.admin).port) }
    writeFileSync(file, JSON.stringify({ ...next, workers: 2, listen, admin }))
  }

  const outcomes = new Map<number | string, number>()
  let loading = true
  const client = async () => {
    while (loading) {
      const r = await freshGet(w.port)
      outcomes.set(r, (outcomes.get(r) ?? 0) + 1)
    }
  }
  const clients = Array.from({ length: 6 }, () => client())
  const replaced: number[] = []
  for (let i = 0; i < 4; i++) {
    const before = w.gw.workers().map((x) => x.pid)
    writeRealm(`drain ${i}`)
    const result = await w.gw.reload(`drain ${i}`)
    assert.equal(result.ok, true, result.summary)
    const after = w.gw.workers().map((x) => x.pid)
    assert.ok(!after.some((p) => before.includes(p)), 'every worker was replaced')
    replaced.push(...before)
  }
  loading = false
  await Promise.all(clients)

  assert.deepEqual([...outcomes.keys()], [200], `every request answered 200: ${JSON.stringify([...outcomes])}`)
  assert.ok((outcomes.get(200) ?? 0) > 0)
  assert.equal(replaced.length, 8)
  await until('the replaced workers to exit', () => replaced.every((p) => !alive(p)))
})
