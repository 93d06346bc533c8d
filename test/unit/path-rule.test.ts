/**
 * The path rule (src/proxy/path-rule.ts) that the front and the sidecar both apply, against the
 * readings an app behind gatehouse makes of the same request-target. The app-side readings are
 * real parsers (WHATWG URL, Node's url.parse, find-my-way) or written here from their
 * documentation (a case-insensitive router that drops `;` parameters, as Tomcat and Spring do),
 * never the rule's own code. The property: whenever gatehouse accepts a target, the policy it
 * applies is at least as strict as that of the route every reading dispatches to.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import FindMyWay from 'find-my-way'
import { appReadings, appRouters, requestTarget, type LeveledRoute as TestRoute } from '../helpers/path-readings.js'
import { RouteTable } from '../../src/proxy/path-rule.js'
import { parseConfig } from '../../src/config/parse.js'
import { recoverOriginalRequest } from '../../src/sidecar/original-request.js'
import type { AddressMatcher } from '../../src/proxy/trusted-proxies.js'

/** Routes with policies of increasing strictness: 0 public, 1 any user, 2 staff, 3 admins. */
const ROUTES: TestRoute[] = [
  { path: '/', level: 1 },
  { path: '/public', level: 0 },
  { path: '/staff', level: 2 },
  { path: '/staff/public', level: 0 },
  { path: '/Admin', level: 3 },
  { path: '/api', level: 0 },
  { path: '/api/v1', level: 2 },
  { path: '/files.d', level: 3 },
]

/** The front: find-my-way with Fastify's defaults and the routes registered as server.ts does; the handler then asks the rule. */
function frontDecider(routes: readonly TestRoute[]): (target: string) => TestRoute | undefined {
  const table = new RouteTable(routes)
  const router = FindMyWay<FindMyWay.HTTPVersion.V1>({
    caseSensitive: true,
    ignoreTrailingSlash: false,
    ignoreDuplicateSlashes: false,
    useSemicolonDelimiter: false,
    maxParamLength: 100,
  } as FindMyWay.Config<FindMyWay.HTTPVersion.V1>)
  for (const r of routes) {
    for (const url of r.path === '/' ? ['/', '/*'] : [r.path, `${r.path}/`, `${r.path}/*`])
      router.on('GET', url, () => {}, { route: r })
  }
  return (target) => {
    const found = router.find('GET', target)
    if (!found) return undefined
    const d = table.decide(target)
    const route = (found.store as { route: TestRoute }).route
    return d.ok && d.route === route ? route : undefined
  }
}

/** The sidecar: the original URI recovered from nginx's X-Original-URI, then the rule. */
function sidecarDecider(routes: readonly TestRoute[]): (target: string) => TestRoute | undefined {
  const table = new RouteTable(routes)
  const trustedProxies: AddressMatcher = { has: () => true }
  return (target) => {
    const recovered = recoverOriginalRequest(
      {
        method: 'GET',
        url: '/auth',
        headers: { 'x-original-uri': target },
        rawHeaders: ['X-Original-URI', target],
        remoteAddress: '127.0.0.1',
      },
      { path: '/auth', trustedProxies },
    )
    if (!recovered.ok) return undefined
    const d = table.decide(recovered.request.uri)
    return d.ok ? d.route : undefined
  }
}

/** The property, for one decider: accepted targets get a policy at least as strict as every reading's. */
function assertNoWeakerPolicy(
  routes: readonly TestRoute[],
  routers: ReturnType<typeof appRouters>,
  decide: (t: string) => TestRoute | undefined,
  target: string,
  caseInsensitive: boolean,
): void {
  const route = decide(target)
  if (route === undefined) return
  for (const r of appReadings(routes, routers, target, caseInsensitive)) {
    assert.ok(
      (r.route?.level ?? 0) <= route.level,
      `${JSON.stringify(target)} gets ${route.path} (level ${route.level}) but ${r.name} dispatches to ${r.route?.path} (level ${r.route?.level})`,
    )
  }
}

const NUM_RUNS = 100_000

describe('the path rule: each way of reaching a weaker route is refused', () => {
  const table = new RouteTable([{ path: '/' }, { path: '/staff' }, { path: '/public' }, { path: '/admin' }])
  const refused = (t: string) => assert.equal(table.decide(t).ok, false, t)

  test('a raw # anywhere in the target is refused: a request-target never has a fragment', () => {
    for (const t of ['/staff#x', '/admin#x', '/staff#', '/#/staff', '/public?a#b', '/public#']) refused(t)
    assert.match((table.decide('/staff#x') as { reason: string }).reason, /never contains #/)
  })

  test('a dot segment ended by #, ; or spaces is refused, as are segments made only of dots', () => {
    for (const t of [
      '/public/..#',
      '/public/.#',
      '/public/..;/staff/x',
      '/public/%2e%2e;x/staff',
      '/public/..%20/staff',
      '/public/.../staff',
      '/public/..?x',
    ])
      refused(t)
  })

  test('a path that names another route once case-folded is refused', () => {
    for (const t of ['/STAFF/x', '/Staff', '/%53taff/x', '/ST%41FF', '/%C5%BFtaff', '/ADMIN']) refused(t)
    assert.match((table.decide('/STAFF/x') as { reason: string }).reason, /case-folded/)
  })

  test('a path whose route changes with percent-decoding is refused (apps that route before decoding)', () => {
    for (const t of ['/st%61ff/x', '/%70ublic', '/publi%63/x']) refused(t)
    assert.match((table.decide('/%70ublic') as { reason: string }).reason, /before percent-decoding/)
  })

  test('a path that names another route once ; parameters are dropped is refused', () => {
    for (const t of ['/staff;x', '/staff;jsessionid=1/x', '/staff%3Bx', '/;x/staff', '/staff./x', '/staff%20/x'])
      refused(t)
    assert.match((table.decide('/staff;x') as { reason: string }).reason, /; parameters/)
  })

  test('ordinary paths keep their route, with / and /staff both present', () => {
    const ok = (t: string, path: string) => {
      const d = table.decide(t)
      assert.ok(d.ok && d.route?.path === path, `${t}: ${JSON.stringify(d)}`)
    }
    ok('/', '/')
    ok('/index.html', '/')
    ok('/staffing', '/')
    ok('/Other/Page', '/')
    ok('/staff', '/staff')
    ok('/staff/', '/staff')
    ok('/staff/Report.PDF?x=../y', '/staff')
    ok('/public/a;jsessionid=1', '/public')
    ok('/public/a.b/c', '/public')
    ok('/public/%C3%A9t%C3%A9', '/public')
  })

  test('caseSensitive on the route a path literally matches skips the case-folded readings only', () => {
    const cs = new RouteTable([
      { path: '/', caseSensitive: true },
      { path: '/staff', caseSensitive: true },
    ])
    const d = cs.decide('/STAFF/x')
    assert.ok(d.ok && d.route?.path === '/')
    assert.equal(cs.decide('/staff;x').ok, false, '; parameters are still checked')
    assert.equal(cs.decide('/staff#x').ok, false)
    assert.equal(
      new RouteTable([{ path: '/' }, { path: '/staff', caseSensitive: true }]).decide('/STAFF/x').ok,
      false,
      'the route that would receive /STAFF/x is not case-sensitive',
    )
  })
})

describe(`property: no accepted target gets a weaker policy than an app-side reading (${NUM_RUNS} runs each)`, () => {
  test('the front (find-my-way, then the rule) against WHATWG URL, url.parse, find-my-way and a case-insensitive ;-stripping reading', () => {
    const decide = frontDecider(ROUTES)
    const routers = appRouters(ROUTES)
    fc.assert(
      fc.property(requestTarget, (t) => assertNoWeakerPolicy(ROUTES, routers, decide, t, true)),
      { seed: 0x9112, numRuns: NUM_RUNS },
    )
  })

  test('the sidecar (X-Original-URI recovered, then the rule) against the same readings', () => {
    const decide = sidecarDecider(ROUTES)
    const routers = appRouters(ROUTES)
    fc.assert(
      fc.property(requestTarget, (t) => assertNoWeakerPolicy(ROUTES, routers, decide, t, true)),
      { seed: 0x3986, numRuns: NUM_RUNS },
    )
  })

  test('routes marked caseSensitive, against the case-sensitive readings (front and sidecar)', () => {
    const routes = ROUTES.map((r) => ({ ...r, caseSensitive: true }))
    const front = frontDecider(routes)
    const sidecar = sidecarDecider(routes)
    const routers = appRouters(routes)
    fc.assert(
      fc.property(requestTarget, (t) => {
        assertNoWeakerPolicy(routes, routers, front, t, false)
        assertNoWeakerPolicy(routes, routers, sidecar, t, false)
      }),
      { seed: 0x7230, numRuns: NUM_RUNS / 10 },
    )
  })

  test('the generator reaches both outcomes: most ordinary targets are accepted, confusable ones refused', () => {
    const decide = sidecarDecider(ROUTES)
    const sample = fc.sample(requestTarget, { seed: 1, numRuns: 2000 })
    const accepted = sample.filter((t) => decide(t) !== undefined).length
    assert.ok(accepted > 200 && accepted < 1800, `${accepted} of 2000 accepted`)
  })
})

describe('route paths and caseSensitive in the configuration', () => {
  const parse = (routes: unknown[]) => parseConfig({ routes }, { baseDir: '/etc/gh' })
  const refusedAs = (routes: unknown[], message: RegExp) =>
    assert.throws(
      () => parse(routes),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'GH_ERR_CONFIG_INVALID')
        assert.match(err.message, message)
        return true
      },
    )

  test('a route path must be plain: unreserved characters, no segment ending in a dot', () => {
    for (const path of ['/st%61ff', '/staff;x', '/a/../b', '/a/.', '/a:b', '/a*', '/a b', '//a', '/files.', '/Ä'])
      refusedAs([{ path }], /routes\[0\]\.path: expected a plain path/)
    assert.deepEqual(
      parse([{ path: '/' }, { path: '/a.b/c-d_e~f/' }, { path: '/.well-known' }]).routes.map((r) => r.path),
      ['/', '/a.b/c-d_e~f', '/.well-known'],
    )
  })

  test('paths that differ only in case need caseSensitive: true on both', () => {
    refusedAs(
      [{ path: '/staff' }, { path: '/STAFF' }],
      /routes\[1\]\.path: \/STAFF differs from routes\[0\]\.path only in case/,
    )
    refusedAs([{ path: '/staff', caseSensitive: true }, { path: '/STAFF' }], /only in case/)
    assert.equal(
      parse([
        { path: '/staff', caseSensitive: true },
        { path: '/STAFF', caseSensitive: true },
      ]).routes[1]!.caseSensitive,
      true,
    )
  })

  test('caseSensitive must be a boolean', () => {
    refusedAs([{ path: '/', caseSensitive: 'yes' }], /routes\[0\]\.caseSensitive/)
  })
})

describe('each refusal of the rule, on its own', () => {
  const table = new RouteTable([{ path: '/' }, { path: '/staff' }, { path: '/public' }])
  const reason = (target: string): string | undefined => {
    const d = table.decide(target)
    return d.ok ? undefined : d.reason
  }

  test('a target that is not origin-form visible ASCII is refused, whatever else it holds', () => {
    for (const t of ['staff', '*', '/a b', '/caf\u00e9', '/staff\t', 'http://evil.example/staff'])
      assert.equal(reason(t), 'request target must be a path', JSON.stringify(t))
  })

  test('a % not followed by two hex digits is named as a malformed escape', () => {
    for (const t of ['/staff%', '/st%4', '/%zzstaff', '/public/%g0'])
      assert.equal(reason(t), 'malformed percent-escape in the path', t)
  })

  test('an encoded #, ? or control character is refused once decoded (an app that decodes reads another path)', () => {
    for (const t of ['/staff%23x', '/public%3F/x', '/public/%0a', '/staff%7f', '/%09staff'])
      assert.equal(reason(t), 'encoded #, ? and control characters are not allowed in the path', t)
  })

  test('with capitals, a ; parameter that keeps the route is accepted (the folded and ;-stripped reading agrees)', () => {
    for (const t of ['/public/A;jsessionid=1', '/Public;x/A', '/staff/Report;v=2']) {
      const d = table.decide(t)
      if (t.startsWith('/Public')) assert.equal(d.ok, false, t)
      else
        assert.deepEqual(
          [d.ok, d.ok ? d.route?.path : undefined],
          [true, t.startsWith('/staff') ? '/staff' : '/public'],
          t,
        )
    }
  })
})
