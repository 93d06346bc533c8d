/**
 * The admin listener of a real gateway (127.0.0.1, ephemeral ports): /metrics counters move
 * for real traffic (exact names and label values), /healthz and /readyz, /status.json with
 * the processes of a daemon group, the restart command, and the admin's protections (bearer
 * token, Origin on commands, Host without a token, unix socket modes).
 */
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { chmodSync, mkdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { request as httpRequest } from 'node:http'
import { request } from 'undici'
import bcrypt from 'bcryptjs'
import { MULTI_APP, APPS } from '../fixtures/apps/harness.js'
import { startGateway, tempDir, writeFile, type TestGateway } from '../helpers/gateway.js'
import { isGatehouseError } from '../../src/errors.js'

const TOKEN = 'admin-token-0123456789abcdef'
const auth = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`

function metricValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

async function admin(
  gw: TestGateway,
  path: string,
  init: { method?: 'GET' | 'POST'; headers?: Record<string, string> } = {},
) {
  const res = await request(`${gw.gw.adminAddress}${path}`, {
    method: init.method ?? 'GET',
    headers: init.headers ?? { authorization: `Bearer ${TOKEN}` },
  })
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() }
}

describe('admin listener with a token', () => {
  let gw: TestGateway
  let cleanup: () => void

  before(async () => {
    const t = tempDir('gh-admin-')
    cleanup = t.cleanup
    writeFile(t.dir, 'users.htpasswd', `bob:{SHA}${createHash('sha1').update('builder').digest('base64')}\n`)
    gw = await startGateway(
      {
        providers: { office: { type: 'htpasswd', file: './users.htpasswd' } },
        groups: {
          app: { app: MULTI_APP, cwd: APPS, processes: 1 },
          busy: { app: MULTI_APP, cwd: APPS, processes: 1, concurrency: 1, queueTimeout: 0 },
        },
        routes: [
          { path: '/identity', group: 'app', auth: { scheme: 'basic', realm: 'Office', provider: 'office' } },
          { path: '/pid', group: 'app' },
          { path: '/slow', group: 'busy' },
        ],
        admin: { host: '127.0.0.1', port: 0, token: TOKEN },
        sidecar: { path: '/auth' },
        trustedProxies: ['127.0.0.1'],
      },
      t.dir,
    )
  })
  after(async () => {
    await gw?.close()
    cleanup?.()
  })

  test('counters move for real traffic, with exact names and label values and no credentials in them', async () => {
    const get = async (path: string, authorization?: string) =>
      (await request(`${gw.url}${path}`, { headers: authorization ? { authorization } : {} })).body
        .text()
        .then(() => undefined)
    await get('/identity')
    await get('/identity', auth('bob', 'builder'))
    await get('/identity', auth('bob', 'builder'))
    await get('/identity', auth('bob', 'wrong-secret'))
    await get('/identity', auth('nobody', 'whatever'))
    await get('/pid')

    const m = await admin(gw, '/metrics')
    assert.equal(m.status, 200)
    assert.match(String(m.headers['content-type']), /^text\/plain; version=0\.0\.4/)
    const v = (s: string) => metricValue(m.text, s)
    assert.equal(v('gatehouse_http_requests_total{route="/identity",status="401"}'), 3)
    assert.equal(v('gatehouse_http_requests_total{route="/identity",status="200"}'), 2)
    assert.equal(v('gatehouse_http_requests_total{route="/pid",status="200"}'), 1)
    assert.equal(v('gatehouse_auth_total{provider="office",result="ok"}'), 2)
    assert.equal(v('gatehouse_auth_total{provider="office",result="bad_password"}'), 1)
    assert.equal(v('gatehouse_auth_total{provider="office",result="unknown_user"}'), 1)
    assert.equal(v('gatehouse_credential_cache_hits_total{cache="identities"}'), 1)
    assert.equal(v('gatehouse_credential_cache_misses_total{cache="identities"}'), 3)
    assert.equal(
      v('gatehouse_provider_call_duration_seconds_count{provider="office",method="checkPassword",outcome="ok"}'),
      3,
    )
    assert.equal(v('gatehouse_group_processes_up{group="app"}'), 1)
    assert.equal(v('gatehouse_group_processes{group="app",state="ready"}'), 1)
    assert.equal(v('gatehouse_group_processes_max{group="app"}'), 1)
    assert.equal(v('gatehouse_group_restarts_total{group="app"}'), 0)
    for (const secret of [
      'bob',
      'builder',
      'nobody',
      'wrong-secret',
      'whatever',
      Buffer.from('bob:builder').toString('base64'),
    ])
      assert.ok(!m.text.includes(secret), `metrics mention ${secret}`)
  })

  test("the sidecar's decisions are counted in gatehouse_auth_total too", async () => {
    const scrape = async () => (await admin(gw, '/metrics')).text
    const before = await scrape()
    const ask = async (authorization?: string) =>
      (
        await request(`${gw.url}/auth`, {
          headers: {
            'x-original-uri': '/identity/x',
            'x-original-method': 'GET',
            ...(authorization ? { authorization } : {}),
          },
        })
      ).body.text()
    await ask(auth('bob', 'builder'))
    await ask(auth('bob', 'nope'))
    const after = await scrape()
    const delta = (series: string) => (metricValue(after, series) ?? 0) - (metricValue(before, series) ?? 0)
    assert.equal(delta('gatehouse_auth_total{provider="office",result="ok"}'), 1)
    assert.equal(delta('gatehouse_auth_total{provider="office",result="bad_password"}'), 1)
  })

  test('a request refused for a busy group counts as a 503 and a busy rejection', async () => {
    const slow = request(`${gw.url}/slow?ms=1500`).then((r) => r.body.text())
    // Wait until the only process has the slow request, then ask again: no free process, no queue.
    for (let i = 0; ; i++) {
      const s = JSON.parse((await admin(gw, '/status.json')).text) as {
        groups: Array<{ name: string; processes: Array<{ inflight: number }> }>
      }
      if (s.groups.find((g) => g.name === 'busy')!.processes.some((p) => p.inflight === 1)) break
      assert.ok(i < 250, 'the slow request never reached the process')
      await new Promise((r) => setTimeout(r, 20))
    }
    const during = (await admin(gw, '/metrics')).text
    assert.equal(metricValue(during, 'gatehouse_group_processes_busy{group="busy"}'), 1)
    assert.equal(metricValue(during, 'gatehouse_group_requests_in_flight{group="busy"}'), 1)
    assert.equal(metricValue(during, 'gatehouse_group_processes_busy{group="app"}'), 0)
    const refused = await request(`${gw.url}/slow?ms=1`)
    await refused.body.text()
    assert.equal(refused.statusCode, 503)
    await slow
    const m = (await admin(gw, '/metrics')).text
    assert.equal(metricValue(m, 'gatehouse_http_unavailable_total{route="/slow"}'), 1)
    assert.equal(metricValue(m, 'gatehouse_http_requests_total{route="/slow",status="503"}'), 1)
    assert.equal(metricValue(m, 'gatehouse_group_busy_total{group="busy"}'), 1)
  })

  test('/healthz and /readyz answer without the token; everything else needs it', async () => {
    const none = {}
    assert.deepEqual(
      [(await admin(gw, '/healthz', { headers: none })).status, (await admin(gw, '/healthz', { headers: none })).text],
      [200, 'ok\n'],
    )
    assert.deepEqual(
      [(await admin(gw, '/readyz', { headers: none })).status, (await admin(gw, '/readyz', { headers: none })).text],
      [200, 'ready\n'],
    )
    for (const [path, method] of [
      ['/metrics', 'GET'],
      ['/status', 'GET'],
      ['/status.json', 'GET'],
      ['/reload', 'POST'],
      ['/stop', 'POST'],
      ['/groups/app/restart', 'POST'],
    ] as const) {
      const noToken = await admin(gw, path, { method, headers: none })
      assert.equal(noToken.status, 401, path)
      assert.equal(noToken.headers['www-authenticate'], 'Bearer realm="gatehouse admin"')
      const wrong = await admin(gw, path, { method, headers: { authorization: `Bearer ${TOKEN}x` } })
      assert.equal(wrong.status, 401, path)
    }
  })

  test('a configuration reload is counted by its result (this gateway has no file to re-read: failed)', async () => {
    const before =
      metricValue((await admin(gw, '/metrics')).text, 'gatehouse_config_reloads_total{result="failed"}') ?? 0
    const r = await admin(gw, '/reload', { method: 'POST' })
    assert.equal(r.status, 500, r.text)
    assert.equal(
      metricValue((await admin(gw, '/metrics')).text, 'gatehouse_config_reloads_total{result="failed"}'),
      before + 1,
    )
  })

  test('a command with an Origin header (a web page posting) is refused 403 and not run', async () => {
    const r = await admin(gw, '/stop', {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, origin: 'http://evil.example' },
    })
    assert.equal(r.status, 403)
    assert.equal((await admin(gw, '/healthz')).status, 200)
  })

  test('/status.json lists each process with pid, state, requests served, memory and uptime; restart records its reason', async () => {
    type S = {
      groups: Array<{
        name: string
        reloads: number
        lastReload: { reason: string } | null
        processes: Array<{ pid: number; state: string; served: number; rssBytes: number; uptimeSeconds: number }>
      }>
    }
    const before = JSON.parse((await admin(gw, '/status.json')).text) as S
    const app = before.groups.find((g) => g.name === 'app')!
    assert.equal(app.processes.length, 1)
    const [p] = app.processes
    assert.equal(p!.state, 'ready')
    assert.ok(Number.isInteger(p!.pid) && p!.pid > 0)
    assert.ok(p!.served >= 3, `served ${p!.served}`)
    assert.ok(p!.rssBytes > 1024 * 1024, `rss ${p!.rssBytes}`)
    assert.ok(p!.uptimeSeconds >= 0)

    const reloadsBefore = metricValue((await admin(gw, '/metrics')).text, 'gatehouse_group_reloads_total{group="app"}')
    const r = await admin(gw, '/groups/app/restart', { method: 'POST' })
    assert.equal(r.status, 200)
    assert.equal(
      metricValue((await admin(gw, '/metrics')).text, 'gatehouse_group_reloads_total{group="app"}'),
      (reloadsBefore ?? 0) + 1,
    )
    assert.deepEqual(JSON.parse(r.text), { group: 'app', restarted: true })
    const after = JSON.parse((await admin(gw, '/status.json')).text) as S
    const app2 = after.groups.find((g) => g.name === 'app')!
    assert.equal(app2.reloads, app.reloads + 1)
    assert.equal(app2.lastReload?.reason, 'restart command')
    assert.ok(app2.processes.some((q) => q.state === 'ready' && q.pid !== p!.pid))
    const unknown = await admin(gw, '/groups/nope/restart', { method: 'POST' })
    assert.equal(unknown.status, 404)
  })
})

describe('provider threads resting while the front is busy', () => {
  test('gatehouse_provider_rest_seconds_total stays 0 for logins hashed while the front idles, and moves for logins hashed while its event loop is busy', async () => {
    const t = tempDir('gh-rest-')
    const hash = bcrypt.hashSync('pw', 10)
    writeFile(t.dir, 'users.htpasswd', ['u1', 'u2', 'u3'].map((u) => `${u}:${hash}\n`).join(''))
    const gw = await startGateway(
      {
        providers: { slow: { type: 'htpasswd', file: './users.htpasswd', threads: 1 } },
        groups: { app: { app: MULTI_APP, cwd: APPS, processes: 1 } },
        routes: [{ path: '/identity', group: 'app', auth: { scheme: 'basic', realm: 'R', provider: 'slow' } }],
        admin: { host: '127.0.0.1', port: 0, token: TOKEN },
      },
      t.dir,
    )
    try {
      const login = async (user: string) => {
        const res = await request(`${gw.url}/identity`, { headers: { authorization: auth(user, 'pw') } })
        await res.body.text()
        return res.statusCode
      }
      const rested = async () =>
        metricValue((await admin(gw, '/metrics')).text, 'gatehouse_provider_rest_seconds_total{provider="slow"}')
      await new Promise((r) => setTimeout(r, 200))
      assert.equal(await login('u1'), 200)
      assert.equal(await rested(), 0)
      // The front runs in this process: 9 ms of work every 10 ms keeps its event loop 90% busy.
      const busy = setInterval(() => {
        const end = performance.now() + 9
        while (performance.now() < end) {
          // the work of requests that are already authenticated
        }
      }, 10)
      try {
        await new Promise((r) => setTimeout(r, 150))
        assert.deepEqual(await Promise.all([login('u2'), login('u3')]), [200, 200])
      } finally {
        clearInterval(busy)
      }
      // Each cost-10 bcrypt check uses tens of ms of CPU; the thread rests three times that after the first.
      assert.ok(((await rested()) ?? 0) > 0.05, `rested ${await rested()} s`)
    } finally {
      await gw.close()
      t.cleanup()
    }
  })
})

describe('admin listener protections', () => {
  test('without a token, a TCP admin answers only its own loopback Host (no DNS rebinding)', async (t) => {
    const { dir, cleanup } = tempDir('gh-admin-host-')
    t.after(cleanup)
    const gw = await startGateway(
      { routes: [{ path: '/x', upstream: 'http://127.0.0.1:9' }], admin: { host: '127.0.0.1', port: 0 } },
      dir,
    )
    t.after(() => gw.close())
    const port = new URL(gw.gw.adminAddress!).port
    const get = (host: string) =>
      new Promise<number>((resolve, reject) => {
        httpRequest({ host: '127.0.0.1', port, path: '/status.json', headers: { host } }, (res) => {
          res.resume()
          resolve(res.statusCode ?? 0)
        })
          .on('error', reject)
          .end()
      })
    assert.equal(await get(`127.0.0.1:${port}`), 200)
    assert.equal(await get(`localhost:${port}`), 200)
    assert.equal(await get(`evil.example:${port}`), 421)
  })

  test('a unix socket admin is made 0600, answers over the socket, and is removed on stop', async (t) => {
    const { dir, cleanup } = tempDir('gh-admin-sock-')
    t.after(cleanup)
    const socket = join(dir, 'run', 'admin.sock')
    const gw = await startGateway(
      { routes: [{ path: '/x', upstream: 'http://127.0.0.1:9' }], admin: { socket: './run/admin.sock' } },
      dir,
    )
    assert.equal(gw.gw.adminAddress, `unix:${socket}`)
    assert.equal(statSync(socket).mode & 0o777, 0o600)
    assert.equal(statSync(join(dir, 'run')).mode & 0o777, 0o700)
    const status = await new Promise<number>((resolve, reject) => {
      httpRequest({ socketPath: socket, path: '/healthz' }, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
        .on('error', reject)
        .end()
    })
    assert.equal(status, 200)
    await gw.close()
    assert.throws(() => statSync(socket), { code: 'ENOENT' })
  })

  test('a unix socket in a directory open to others is refused at start (GH_ERR_ADMIN_LISTEN)', async (t) => {
    const { dir, cleanup } = tempDir('gh-admin-open-')
    t.after(cleanup)
    mkdirSync(join(dir, 'open'))
    chmodSync(join(dir, 'open'), 0o755)
    await assert.rejects(
      startGateway(
        { routes: [{ path: '/x', upstream: 'http://127.0.0.1:9' }], admin: { socket: './open/admin.sock' } },
        dir,
      ),
      (err) =>
        isGatehouseError(err, 'GH_ERR_ADMIN_LISTEN') &&
        /must not be accessible by group or others \(mode 755/.test(err.message),
    )
  })

  test('a non-loopback admin host without a token is a configuration error naming admin.host', async (t) => {
    const { dir, cleanup } = tempDir('gh-admin-cfg-')
    t.after(cleanup)
    await assert.rejects(
      startGateway(
        { routes: [{ path: '/x', upstream: 'http://127.0.0.1:9' }], admin: { host: '0.0.0.0', port: 0 } },
        dir,
      ),
      (err) =>
        isGatehouseError(err, 'GH_ERR_CONFIG_INVALID') &&
        err.message.includes('admin.host: 0.0.0.0 is not a loopback address'),
    )
  })
})
