/**
 * `workers: 2`: two real front processes (Node's cluster) behind one listening socket, steered
 * by the primary running in this test process. Which worker answered is read from the access
 * lines the workers write (their pid), captured through RunOptions.workerOutput.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { Agent, request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseConfig } from '../../src/config/parse.js'
import { tempDir, writeFile } from '../helpers/gateway.js'
import { accessPids, alive, startWorkers, until } from '../helpers/workers-gateway.js'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'
import { httpGet } from '../helpers/http-get.js'
import { digestAuthorization } from '../helpers/digest-client.js'

function htpasswd(dir: string, user: string, password: string): string {
  const file = `${dir}/users.htpasswd`
  execFileSync('htpasswd', ['-bcB', '-C', '4', file, user, password], { stdio: 'ignore' })
  return file
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`

/** A private directory with alice in an htpasswd file and an echo upstream, both gone after the test. */
async function aliceAndUpstream(t: { after(fn: () => unknown): void }): Promise<{
  dir: string
  file: string
  up: EchoUpstream
  /** Removes the directory: register it after the gateway's stop (hooks run in order), or a daemon may lose its files while it runs. */
  cleanup: () => void
}> {
  const { dir, cleanup } = tempDir()
  const file = htpasswd(dir, 'alice', 'wonderland')
  const up = await startEchoUpstream()
  t.after(() => up.close())
  return { dir, file, up, cleanup }
}

function routes(upstream: string) {
  return {
    providers: { users: { type: 'htpasswd', file: 'users.htpasswd' } },
    routes: [{ path: '/', upstream, auth: { scheme: 'basic', realm: 'workers', provider: 'users' } }],
  }
}

test('workers: 2 answers from two processes other than the primary, and the admin listener sums them', async (t) => {
  const { dir, up, cleanup } = await aliceAndUpstream(t)
  const w = await startWorkers(t, routes(up.url), dir)
  // After the gateway's stop (hooks run in order): its daemons and providers read files there.
  t.after(cleanup)

  const pids = w.gw.workers().map((x) => x.pid)
  assert.equal(pids.length, 2)
  assert.equal(new Set(pids).size, 2)
  assert.ok(!pids.includes(process.pid), 'the primary serves no request itself')

  for (let i = 0; i < 6; i++) {
    const r = await httpGet(w.port, `/n${i}`, { authorization: basic('alice', 'wonderland') })
    assert.equal(r.status, 200)
    assert.equal((JSON.parse(r.text) as { headers: Record<string, string> }).headers['x-remote-user'], 'alice')
  }
  const refused = await httpGet(w.port, '/nope', { authorization: basic('alice', 'wrong') })
  assert.equal(refused.status, 401)
  assert.equal(refused.headers['www-authenticate'], 'Basic realm="workers", charset="UTF-8"')
  assert.equal(up.seen.filter((s) => s.url === '/nope').length, 0, 'the upstream never saw the refused request')

  await until('both workers to log', () => accessPids(w.workerLines).size === 2)
  assert.deepEqual([...accessPids(w.workerLines)].sort(), [...pids].sort(), 'each worker served fresh connections')

  const metrics = await (await fetch(`${w.admin}/metrics`)).text()
  assert.match(metrics, /^gatehouse_http_requests_total\{route="\/",status="200"\} 6$/m)
  assert.match(metrics, /^gatehouse_http_requests_total\{route="\/",status="401"\} 1$/m)
  assert.match(metrics, /^gatehouse_front_workers 2$/m)
  const status = (await (await fetch(`${w.admin}/status.json`)).json()) as {
    workers: Array<{ pid: number; rssBytes: number }>
    activity: { summary: { auth: Record<string, number> } }
  }
  assert.deepEqual(status.workers.map((x) => x.pid).sort(), [...pids].sort())
  assert.ok(status.workers.every((x) => x.rssBytes > 0))
  assert.equal(status.activity.summary.auth.ok, 6)
})

test('a worker that dies is replaced while the other keeps its open connections', async (t) => {
  const { dir, up, cleanup } = await aliceAndUpstream(t)
  const w = await startWorkers(t, routes(up.url), dir)
  // After the gateway's stop (hooks run in order): its daemons and providers read files there.
  t.after(cleanup)
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  t.after(() => agent.destroy())
  const get = (path: string) =>
    new Promise<{ status: number; port: number }>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port: w.port, path, agent, headers: { authorization: basic('alice', 'wonderland') } },
        (res) => {
          res.resume()
          res.on('end', () => resolve({ status: res.statusCode ?? 0, port: req.socket?.localPort ?? 0 }))
        },
      )
      req.on('error', reject)
      req.end()
    })
  const first = await get('/kept/0')
  assert.equal(first.status, 200)
  await until('the first access line', () => w.workerLines.some((l) => l.msg === 'access' && l.url === '/kept/0'))
  const servedBy = w.workerLines.find((l) => l.msg === 'access' && l.url === '/kept/0')!.pid as number
  const victim = w.gw.workers().find((x) => x.pid !== servedBy)!
  process.kill(victim.pid, 'SIGKILL')

  // The kept connection goes on being served by the worker that holds it while the other is replaced.
  for (let i = 1; i <= 20; i++) {
    const r = await get(`/kept/${i}`)
    assert.equal(r.status, 200)
    assert.equal(r.port, first.port, 'the same client connection')
  }
  await until(
    'a replacement worker',
    () => w.gw.workers().length === 2 && !w.gw.workers().some((x) => x.pid === victim.pid),
  )
  const replacement = w.gw.workers().find((x) => x.pid !== servedBy)!
  assert.equal(replacement.index, victim.index, 'the replacement takes the dead worker’s slot')
  assert.ok(alive(replacement.pid))
  const metrics = await (await fetch(`${w.admin}/metrics`)).text()
  assert.match(metrics, /^gatehouse_front_worker_restarts_total 1$/m)
  assert.match(w.primaryLogs.join(''), /front worker exited; starting a new one/)
})

test('a configuration reload starts new workers on the new routes before the old ones leave', async (t) => {
  const { dir, up, cleanup } = await aliceAndUpstream(t)
  const file = writeFile(dir, 'gatehouse.json', '{}')
  const w = await startWorkers(t, routes(up.url), dir, file)
  // After the gateway's stop (hooks run in order): its daemons and providers read files there.
  t.after(cleanup)
  const before = w.gw.workers().map((x) => x.pid)

  // The file a reload re-reads: the realm changes, which the 401 challenge shows.
  const next = { ...routes(up.url), workers: 2, listen: { host: '127.0.0.1', port: w.port } }
  next.routes[0]!.auth.realm = 'reloaded'
  writeFileSync(file, JSON.stringify({ ...next, admin: { host: '127.0.0.1', port: Number(new URL(w.admin).port) } }))
  let failures = 0
  let served = 0
  let loading = true
  const load = (async () => {
    while (loading) {
      const r = await httpGet(w.port, '/during', { authorization: basic('alice', 'wonderland') }).catch(() => null)
      if (r?.status === 200) served++
      else failures++
    }
  })()
  const result = await w.gw.reload('test')
  loading = false
  await load
  assert.equal(result.ok, true, result.summary)
  assert.ok(result.changes.includes('routes and providers rebuilt (credential cache emptied)'), result.changes.join())
  assert.equal(failures, 0, 'no request failed while the workers were replaced')
  assert.ok(served > 0)
  const after = w.gw.workers().map((x) => x.pid)
  assert.equal(after.length, 2)
  assert.ok(
    after.every((p) => !before.includes(p)),
    'every worker was replaced',
  )
  await until('the old workers to exit', () => before.every((p) => !alive(p)))
  const r = await httpGet(w.port, '/after', {})
  assert.equal(r.status, 401)
  assert.equal(r.headers['www-authenticate'], 'Basic realm="reloaded", charset="UTF-8"')
})

test('a reload whose new workers cannot start keeps the running ones', async (t) => {
  const { dir, up, cleanup } = await aliceAndUpstream(t)
  const w = await startWorkers(t, routes(up.url), dir)
  // After the gateway's stop (hooks run in order): its daemons and providers read files there.
  t.after(cleanup)
  const before = w.gw.workers().map((x) => x.pid)
  // A provider module that throws when it loads: the new workers fail at start.
  writeFile(dir, 'broken.mjs', "throw new Error('this provider does not load')\n")
  const broken = parseConfig(
    {
      listen: { host: '127.0.0.1', port: w.port },
      admin: { host: '127.0.0.1', port: Number(new URL(w.admin).port) },
      workers: 2,
      providers: { users: { type: 'module', module: 'broken.mjs' } },
      routes: [{ path: '/', upstream: up.url, auth: { scheme: 'basic', realm: 'workers', provider: 'users' } }],
    },
    { baseDir: dir },
  )
  const result = await w.gw.reload('test', broken)
  assert.equal(result.ok, false)
  assert.match(result.summary, /did not start/)
  assert.deepEqual(
    w.gw.workers().map((x) => x.pid),
    before,
  )
  const r = await httpGet(w.port, '/still', { authorization: basic('alice', 'wonderland') })
  assert.equal(r.status, 200)
})

test('a graceful stop lets a request in flight finish, then every worker exits', async (t) => {
  const { dir, cleanup } = tempDir()
  htpasswd(dir, 'alice', 'wonderland')
  const { createServer } = await import('node:http')
  let arrived!: () => void
  const arrival = new Promise<void>((r) => (arrived = r))
  const slow = createServer((_req, res) => {
    arrived()
    setTimeout(() => res.end('late but whole'), 600)
  })
  await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r))
  t.after(() => new Promise<void>((r) => slow.close(() => r())))
  const port = (slow.address() as { port: number }).port
  const w = await startWorkers(t, routes(`http://127.0.0.1:${port}`), dir)
  // After the gateway's stop (hooks run in order): its daemons and providers read files there.
  t.after(cleanup)
  const pids = w.gw.workers().map((x) => x.pid)
  const inflight = httpGet(w.port, '/slow', { authorization: basic('alice', 'wonderland') })
  await arrival
  const stopped = w.gw.stop()
  const r = await inflight
  assert.equal(r.status, 200)
  assert.equal(r.text, 'late but whole')
  await stopped
  assert.equal(await w.gw.untilStopped(), 0)
  assert.ok(
    pids.every((p) => !alive(p)),
    'every worker exited',
  )
  await assert.rejects(httpGet(w.port, '/gone'), { code: 'ECONNREFUSED' })
})

test('workers: auto runs one front per CPU; workers outside 1..256 is a configuration error naming the key', async () => {
  const { availableParallelism } = await import('node:os')
  const routes = [{ path: '/', upstream: 'http://127.0.0.1:9' }]
  assert.equal(parseConfig({ routes, workers: 'auto' }, { baseDir: '/' }).workers, availableParallelism())
  assert.equal(parseConfig({ routes }, { baseDir: '/' }).workers, 1)
  for (const bad of [0, 257, 1.5, 'many'])
    assert.throws(() => parseConfig({ routes, workers: bad }, { baseDir: '/' }), {
      code: 'GH_ERR_CONFIG_INVALID',
      message: /workers/,
    })
})

test('a password changed in the htpasswd file ends the cached logins on every worker', async (t) => {
  const { dir, file, up, cleanup } = await aliceAndUpstream(t)
  const w = await startWorkers(t, routes(up.url), dir)
  // After the gateway's stop (hooks run in order): its daemons and providers read files there.
  t.after(cleanup)
  // Fresh connections go to the workers in turn: both cache the login.
  for (let i = 0; i < 4; i++)
    assert.equal((await httpGet(w.port, `/cached/${i}`, { authorization: basic('alice', 'wonderland') })).status, 200)
  await until('both workers to have served alice', () => accessPids(w.workerLines).size === 2)

  execFileSync('htpasswd', ['-bB', '-C', '4', file, 'alice', 'looking-glass'], { stdio: 'ignore' })
  const changedAt = Date.now()
  // Until both workers have refused the old password twice in a row on fresh connections.
  let refusedInARow = 0
  await until('the old password refused everywhere', async () => {
    const r = await httpGet(w.port, '/old', { authorization: basic('alice', 'wonderland') })
    refusedInARow = r.status === 401 ? refusedInARow + 1 : 0
    return refusedInARow >= 4
  })
  t.diagnostic(`old password refused by both workers ${Date.now() - changedAt} ms after the file changed`)
  const refusers = new Set(
    w.workerLines.filter((l) => l.msg === 'access' && l.url === '/old' && l.status === 401).map((l) => l.pid),
  )
  await until('both workers to log a refusal', () => {
    for (const l of w.workerLines) if (l.msg === 'access' && l.url === '/old' && l.status === 401) refusers.add(l.pid)
    return refusers.size === 2
  })
  for (let i = 0; i < 2; i++)
    assert.equal((await httpGet(w.port, '/new', { authorization: basic('alice', 'looking-glass') })).status, 200)
})

test('a Digest Authorization accepted by one worker is refused as a replay by the other, which the app never sees', async (t) => {
  const { dir, cleanup } = tempDir()
  const realm = 'workers'
  const ha1 = createHash('md5').update(`dora:${realm}:dora-pw`).digest('hex')
  writeFile(dir, 'users.htdigest', `dora:${realm}:${ha1}\n`)
  const up = await startEchoUpstream()
  t.after(() => up.close())
  const w = await startWorkers(
    t,
    {
      providers: { hashes: { type: 'htdigest', file: 'users.htdigest' } },
      routes: [{ path: '/', upstream: up.url, auth: { scheme: 'digest', realm, provider: 'hashes' } }],
    },
    dir,
  )
  // After the gateway's stop (hooks run in order): its daemons and providers read files there.
  t.after(cleanup)
  const challenge = await httpGet(w.port, '/digest')
  assert.equal(challenge.status, 401)
  const authorization = digestAuthorization(String(challenge.headers['www-authenticate']), {
    username: 'dora',
    password: 'dora-pw',
    realm,
    uri: '/digest',
    nc: '00000001',
  })
  // Fresh connections go to the workers in turn: the same header reaches both.
  const answers = []
  for (let i = 0; i < 4; i++) answers.push(await httpGet(w.port, '/digest', { authorization }))
  assert.deepEqual(
    answers.map((a) => a.status),
    [200, 401, 401, 401],
  )
  for (const replay of answers.slice(1)) assert.match(String(replay.headers['www-authenticate']), /stale=true/)
  assert.equal(up.seen.filter((s) => s.url === '/digest').length, 1, 'the app saw the accepted request only')
  await until(
    'four access lines',
    () => w.workerLines.filter((l) => l.msg === 'access' && l.url === '/digest').length >= 5,
  )
  const lines = w.workerLines.filter((l) => l.msg === 'access' && l.url === '/digest' && l.refused !== 'no-credentials')
  const acceptedBy = lines.filter((l) => l.status === 200).map((l) => l.pid)
  const refusedBy = new Set(lines.filter((l) => l.status === 401).map((l) => l.pid))
  assert.equal(acceptedBy.length, 1)
  assert.ok(
    [...refusedBy].some((p) => p !== acceptedBy[0]),
    'a worker other than the one that accepted it refused the replay',
  )
})

test('failed logins spread over the workers lock the address out at the configured total, on every worker', async (t) => {
  const { dir, up, cleanup } = await aliceAndUpstream(t)
  const w = await startWorkers(
    t,
    { ...routes(up.url), throttle: { perAddress: { maxFailures: 4, lockout: '60s' }, perUser: false } },
    dir,
  )
  // After the gateway's stop (hooks run in order): its daemons and providers read files there.
  t.after(cleanup)
  for (let i = 0; i < 4; i++) {
    const r = await httpGet(w.port, '/guess', { authorization: basic('alice', `guess-${i}`) })
    assert.equal(r.status, 401, `guess ${i}`)
  }
  await until('both workers to have refused a guess', () => {
    const pids = new Set(w.workerLines.filter((l) => l.msg === 'access' && l.url === '/guess').map((l) => l.pid))
    return pids.size === 2
  })
  // The right password, on both workers: the address is locked out everywhere.
  for (let i = 0; i < 2; i++) {
    const r = await httpGet(w.port, '/locked', { authorization: basic('alice', 'wonderland') })
    assert.equal(r.status, 429)
    assert.ok(Number(r.headers['retry-after']) > 0)
  }
  await until('both workers to refuse the locked address', () => {
    const pids = new Set(
      w.workerLines.filter((l) => l.msg === 'access' && l.url === '/locked' && l.status === 429).map((l) => l.pid),
    )
    return pids.size === 2
  })
  assert.equal(up.seen.filter((s) => s.url === '/guess' || s.url === '/locked').length, 0, 'the app saw none of them')
  const status = (await (await fetch(`${w.admin}/status.json`)).json()) as { lockouts: Array<{ address: string }> }
  assert.deepEqual(
    status.lockouts.map((l) => l.address),
    ['127.0.0.1'],
  )
})

const GROUP_APP = fileURLToPath(new URL('../fixtures/group-providers/app.ts', import.meta.url))
const GROUP_ACCOUNTS = fileURLToPath(new URL('../fixtures/group-providers/accounts.ts', import.meta.url))

test('both workers reach the one set of daemon processes, and a change the group provider reports empties both caches', async (t) => {
  const { dir, cleanup } = tempDir()
  const users = (password: string) => JSON.stringify({ users: { alice: { password } } })
  writeFile(dir, 'users.json', users('wonderland'))
  const w = await startWorkers(
    t,
    {
      groups: {
        accounts: {
          app: GROUP_APP,
          provider: GROUP_ACCOUNTS,
          providerOptions: { usersFile: join(dir, 'users.json'), watch: true },
          processes: 2,
          cwd: dir,
        },
      },
      routes: [{ path: '/', group: 'accounts', auth: { scheme: 'basic', realm: 'workers', provider: 'accounts' } }],
    },
    dir,
  )
  // After the gateway's stop (hooks run in order): its daemons and providers read files there.
  t.after(cleanup)
  const daemons = w.gw.supervisor!.status()[0]!.processes.map((p) => p.pid)
  assert.equal(daemons.length, 2, 'the group runs its processes once, not once per worker')
  const seen = new Set<number>()
  for (let i = 0; i < 8; i++) {
    const r = await httpGet(w.port, `/g${i}`, { authorization: basic('alice', 'wonderland') })
    assert.equal(r.status, 200)
    const body = JSON.parse(r.text) as { pid: number; user: string }
    assert.equal(body.user, 'alice')
    seen.add(body.pid)
  }
  assert.ok(
    [...seen].every((p) => daemons.includes(p)),
    'every answer came from the supervised processes',
  )
  await until('both workers to log', () => accessPids(w.workerLines).size === 2)
  const refused = await httpGet(w.port, '/bad', { authorization: basic('alice', 'nope') })
  assert.equal(refused.status, 401)

  writeFile(dir, 'users.json', users('looking-glass'))
  let refusedInARow = 0
  await until('the old password refused on both workers', async () => {
    const r = await httpGet(w.port, '/old', { authorization: basic('alice', 'wonderland') })
    refusedInARow = r.status === 401 ? refusedInARow + 1 : 0
    return refusedInARow >= 4
  })
  const refusers = new Set(
    w.workerLines.filter((l) => l.msg === 'access' && l.url === '/old' && l.status === 401).map((l) => l.pid),
  )
  assert.equal(refusers.size, 2)
  assert.equal((await httpGet(w.port, '/new', { authorization: basic('alice', 'looking-glass') })).status, 200)
})
