/**
 * Request-targets that a literal path matcher and the app behind it read differently, sent as
 * raw bytes (HTTP clients normalize paths) to a real gateway with an echo upstream, and to its
 * forward-auth endpoint as nginx, Traefik/Caddy and Envoy ask it. A refused target gets 400 and
 * never reaches the upstream; ordinary paths keep working with `/` and `/staff` both routed.
 * Then generated targets (fast-check, fixed seeds): whatever the front forwards or the sidecar
 * passes, every app-side reading of it (test/helpers/path-readings.ts) dispatches to a route
 * whose policy the credentials sent would satisfy.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import bcrypt from 'bcryptjs'
import fc from 'fast-check'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'
import { startGateway, tempDir, writeFile, type TestGateway } from '../helpers/gateway.js'
import { appReadings, appRouters, requestTarget, type LeveledRoute } from '../helpers/path-readings.js'

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`
/** alice is in staff; bob is a valid user in no group. */
const ALICE = basic('alice', 'wonder')
const BOB = basic('bob', 'builder')

interface Raw {
  status: number
  headers: Record<string, string>
}

/** One request as raw bytes on its own connection, exactly as written (no path normalization). */
function send(port: number, target: string, headers: Array<[string, string]> = []): Promise<Raw> {
  const lines = [
    `GET ${target} HTTP/1.1`,
    'Host: app.test',
    ...headers.map(([k, v]) => `${k}: ${v}`),
    'Connection: close',
    '',
    '',
  ]
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port })
    s.setTimeout(15_000, () => s.destroy())
    let out = ''
    s.setEncoding('latin1')
    s.on('data', (c: string) => {
      out += c
    })
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') reject(err)
    })
    s.on('close', () => {
      const head = out.split('\r\n\r\n')[0] ?? ''
      const headers: Record<string, string> = {}
      for (const line of head.split('\r\n').slice(1)) {
        const i = line.indexOf(':')
        if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim()
      }
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(out)?.[1] ?? 0), headers })
    })
    s.write(Buffer.from(lines.join('\r\n'), 'latin1'))
  })
}

let echo: EchoUpstream
/** `/` any user, `/staff` staff, `/admin` a group nobody is in, `/public` open; sidecar at /auth. */
let gw: TestGateway
/** `/` open, `/admin` any user (the catch-all is public here). */
let openRoot: TestGateway
let cleanup: () => void

const ROUTES: LeveledRoute[] = [
  { path: '/', level: 1 },
  { path: '/staff', level: 2 },
  { path: '/admin', level: 3 },
  { path: '/public', level: 0 },
]

before(async () => {
  const t = tempDir('gh-paths-')
  cleanup = t.cleanup
  writeFile(t.dir, 'users.htpasswd', `alice:${bcrypt.hashSync('wonder', 4)}\nbob:${bcrypt.hashSync('builder', 4)}\n`)
  writeFile(t.dir, 'groups', 'staff: alice\n')
  echo = await startEchoUpstream()
  const office = { type: 'htpasswd', file: './users.htpasswd', groupFile: './groups' }
  const auth = { scheme: 'basic', realm: 'Office', provider: 'office' }
  gw = await startGateway(
    {
      providers: { office },
      trustedProxies: ['127.0.0.1'],
      sidecar: { path: '/auth' },
      throttle: { enabled: false },
      routes: [
        { path: '/', upstream: echo.url, auth },
        { path: '/staff', upstream: echo.url, auth: { ...auth, require: { groups: ['staff'] } } },
        { path: '/admin', upstream: echo.url, auth: { ...auth, require: { groups: ['admins'] } } },
        { path: '/public', upstream: echo.url },
      ],
    },
    t.dir,
  )
  openRoot = await startGateway(
    {
      providers: { office },
      trustedProxies: ['127.0.0.1'],
      sidecar: { path: '/auth' },
      throttle: { enabled: false },
      routes: [
        { path: '/', upstream: echo.url },
        { path: '/admin', upstream: echo.url, auth },
      ],
    },
    t.dir,
  )
})

after(async () => {
  await gw?.close()
  await openRoot?.close()
  await echo?.close()
  cleanup?.()
})

/** Through the front: exactly 400, and the upstream saw nothing. */
async function frontRefuses(port: number, target: string, credentials?: string): Promise<void> {
  const before = echo.seen.length
  const r = await send(port, target, credentials ? [['Authorization', credentials]] : [])
  assert.equal(r.status, 400, `${target}: status ${r.status}`)
  assert.equal(echo.seen.length, before, `the upstream saw ${target}`)
}

/** The sidecar, asked as nginx asks it: exactly 400, no identity given out. */
async function sidecarRefuses(port: number, headers: Array<[string, string]>, target = '/auth'): Promise<void> {
  const r = await send(port, target, headers)
  assert.equal(r.status, 400, `${JSON.stringify(headers)} ${target}: status ${r.status}`)
  assert.equal(r.headers['x-remote-user'], undefined)
}

describe('the front refuses targets an app reads as another route', () => {
  test('a raw # in the target: 400, whoever asks (a request-target has no fragment)', async () => {
    await frontRefuses(gw.port, '/staff#x', BOB)
    await frontRefuses(gw.port, '/admin#x', ALICE)
    await frontRefuses(openRoot.port, '/admin#x')
    await frontRefuses(gw.port, '/public?x#y')
  })

  test('a dot segment ended by #: 400, not the public route', async () => {
    await frontRefuses(gw.port, '/public/..#')
    await frontRefuses(gw.port, '/public/..#/x')
    await frontRefuses(gw.port, '/public/.%2e?x#')
  })

  test('case and ; parameters that name a stricter route: 400 for a valid user outside staff', async () => {
    for (const t of [
      '/STAFF/x',
      '/Staff',
      '/%53taff/x',
      '/staff;x',
      '/staff;jsessionid=1/x',
      '/public/..;/staff/x',
      '/st%61ff/x',
      '/staff./x',
    ])
      await frontRefuses(gw.port, t, BOB)
    await frontRefuses(openRoot.port, '/ADMIN/x')
    await frontRefuses(openRoot.port, '/admin;x')
  })

  test('ordinary paths keep their route: / and /staff both exist', async () => {
    const ok = async (target: string, credentials: string | undefined, status: number) => {
      const before = echo.seen.length
      const r = await send(gw.port, target, credentials ? [['Authorization', credentials]] : [])
      assert.equal(r.status, status, target)
      assert.equal(echo.seen.length, before + (status === 200 ? 1 : 0), target)
      if (status === 200) assert.equal(echo.seen.at(-1)!.url, target, 'forwarded as sent')
    }
    await ok('/x', BOB, 200)
    await ok('/Other/Page.HTML?q=STAFF', BOB, 200)
    await ok('/staffing', BOB, 200)
    await ok('/staff/x', BOB, 403)
    await ok('/staff/Report.PDF', ALICE, 200)
    await ok('/public/a;jsessionid=1', undefined, 200)
    await ok('/public/%C3%A9t%C3%A9', undefined, 200)
    await ok('/x', undefined, 401)
  })
})

describe('the sidecar refuses the same targets, whichever way the proxy names them', () => {
  const original = (uri: string): Array<[string, string]> => [
    ['X-Original-URI', uri],
    ['X-Original-Method', 'GET'],
  ]

  test('a raw # in X-Original-URI, X-Forwarded-Uri or the Envoy path: 400', async () => {
    await sidecarRefuses(gw.port, [...original('/staff#x'), ['Authorization', BOB]])
    await sidecarRefuses(gw.port, [
      ['X-Forwarded-Uri', '/staff#x'],
      ['X-Forwarded-Method', 'GET'],
      ['Authorization', BOB],
    ])
    await sidecarRefuses(gw.port, [['Authorization', BOB]], '/auth/staff#x')
    await sidecarRefuses(openRoot.port, original('/admin#x'))
    await sidecarRefuses(openRoot.port, [['X-Forwarded-Uri', '/admin#x']])
    await sidecarRefuses(openRoot.port, [], '/auth/admin#x')
  })

  test('a dot segment ended by #: 400', async () => {
    await sidecarRefuses(gw.port, original('/public/..#'))
    await sidecarRefuses(gw.port, [], '/auth/public/..#')
  })

  test('case and ; parameters that name a stricter route: 400', async () => {
    for (const t of ['/STAFF/x', '/%53taff/x', '/staff;x', '/staff;jsessionid=1/x', '/public/..;/staff/x']) {
      await sidecarRefuses(gw.port, [...original(t), ['Authorization', BOB]])
      await sidecarRefuses(gw.port, [['Authorization', BOB]], `/auth${t}`)
    }
  })

  test('ordinary paths keep their route', async () => {
    const status = async (uri: string, credentials?: string) =>
      (
        await send(gw.port, '/auth', [
          ...original(uri),
          ...(credentials ? [['Authorization', credentials] as [string, string]] : []),
        ])
      ).status
    assert.equal(await status('/x', BOB), 200)
    assert.equal(await status('/staffing', BOB), 200)
    assert.equal(await status('/staff/x', BOB), 403)
    assert.equal(await status('/staff/x', ALICE), 200)
    assert.equal(await status('/public/x'), 200)
    assert.equal(await status('/x'), 401)
  })
})

describe('generated targets: what passes, every app-side reading would allow', () => {
  const routers = appRouters(ROUTES)
  /** The credentials' reach: no credentials open level 0, bob level 1, alice level 2. */
  const who = fc.constantFrom(
    { credentials: undefined, level: 0 },
    { credentials: BOB, level: 1 },
    { credentials: ALICE, level: 2 },
  )

  const allowedEverywhere = (target: string, level: number) => {
    for (const r of appReadings(ROUTES, routers, target, true)) {
      assert.ok(
        (r.route?.level ?? 0) <= level,
        `${JSON.stringify(target)} passed at level ${level}, but ${r.name} dispatches to ${r.route?.path}`,
      )
    }
  }

  test('through the front over a socket (400 runs): a forwarded target is forwarded as sent and allowed by every reading', async () => {
    await fc.assert(
      fc.asyncProperty(requestTarget, who, async (target, { credentials, level }) => {
        const before = echo.seen.length
        const r = await send(gw.port, target, credentials ? [['Authorization', credentials]] : [])
        const reached = echo.seen.slice(before)
        if (r.status !== 200) {
          assert.ok([400, 401, 403, 404].includes(r.status), `${target}: status ${r.status}`)
          assert.equal(reached.length, 0, `the upstream saw ${target} answered ${r.status}`)
          return
        }
        assert.equal(reached.length, 1)
        assert.equal(reached[0]!.url, target)
        allowedEverywhere(target, level)
      }),
      { seed: 0x4001, numRuns: 400 },
    )
  })

  test('through the sidecar over a socket (400 runs, X-Original-URI and the Envoy path): a pass is allowed by every reading', async () => {
    await fc.assert(
      fc.asyncProperty(requestTarget, who, fc.boolean(), async (target, { credentials, level }, envoy) => {
        const auth: Array<[string, string]> = credentials ? [['Authorization', credentials]] : []
        const r = envoy
          ? await send(gw.port, `/auth${target}`, auth)
          : await send(gw.port, '/auth', [['X-Original-URI', target], ...auth])
        if (r.status !== 200) {
          assert.ok([400, 401, 403, 404].includes(r.status), `${target}: status ${r.status}`)
          return
        }
        allowedEverywhere(target, level)
      }),
      { seed: 0x4002, numRuns: 400 },
    )
  })
})

describe('sidecar.refusedStatus: 403 (for nginx, whose auth_request turns a 400 into 500)', () => {
  let refusing: TestGateway
  before(async () => {
    refusing = await startGateway(
      {
        providers: { office: { type: 'htpasswd', file: './users.htpasswd', groupFile: './groups' } },
        trustedProxies: ['127.0.0.1'],
        sidecar: { path: '/auth', refusedStatus: 403 },
        throttle: { enabled: false },
        routes: [{ path: '/', auth: { scheme: 'basic', realm: 'Office', provider: 'office' } }, { path: '/public' }],
      },
      gw.dir,
    )
  })
  after(async () => {
    await refusing?.close()
  })

  const ask = (uri: string, extra: Array<[string, string]> = []) =>
    send(refusing.port, '/auth', [['X-Original-URI', uri], ...extra])

  test('a refused original URI, two Authorization headers and malformed credentials get 403 with no identity', async () => {
    for (const [uri, extra] of [
      ['/public/..#', []],
      ['/x#y', [['Authorization', ALICE]]],
      [
        '/x',
        [
          ['Authorization', ALICE],
          ['Authorization', BOB],
        ],
      ],
      ['/x', [['Authorization', 'Basic %%%not-base64']]],
    ] as Array<[string, Array<[string, string]>]>) {
      const r = await ask(uri, extra)
      assert.equal(r.status, 403, `${uri} ${JSON.stringify(extra)}: status ${r.status}`)
      assert.equal(r.headers['x-remote-user'], undefined)
      assert.equal(r.headers['www-authenticate'], undefined)
    }
  })

  test('the same sidecar still answers 200 to a valid user and 401 without credentials', async () => {
    const okay = await ask('/x', [['Authorization', ALICE]])
    assert.equal(okay.status, 200)
    assert.equal(okay.headers['x-remote-user'], 'alice')
    const challenged = await ask('/x')
    assert.equal(challenged.status, 401)
    assert.equal(challenged.headers['www-authenticate'], 'Basic realm="Office", charset="UTF-8"')
  })
})
