import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { parse as parseYaml } from 'yaml'
import { parseConfig, durationMs } from '../../src/config/parse.js'

const contract = `
listen: { host: 127.0.0.1, port: 8080 }
providers:
  office: { type: htpasswd, file: ./users.htpasswd }
  digestfile: { type: htdigest, file: ./users.htdigest }
  local: { type: sqlite, database: ./gatehouse.sqlite }
routes:
  - path: /basic
    upstream: http://127.0.0.1:9000
    auth: { scheme: basic, realm: Office, provider: [office, local] }
  - path: /digest
    upstream: http://127.0.0.1:9000
    auth: { scheme: [digest, basic], realm: Office, provider: digestfile, require: { users: [alice] } }
  - path: /staff
    upstream: http://127.0.0.1:9000
    auth: { scheme: basic, realm: Office, provider: local, require: { groups: [staff] } }
  - path: /public
    upstream: http://127.0.0.1:9000
`

function errorOf(raw: unknown): string {
  try {
    parseConfig(raw, { baseDir: '/etc/gh' })
  } catch (err) {
    assert.equal((err as { code: string }).code, 'GH_ERR_CONFIG_INVALID')
    return (err as Error).message
  }
  throw new Error('expected a configuration error')
}

describe('parseConfig', () => {
  test('the reference configuration (three provider types, four route shapes) parses with defaults filled in', () => {
    const c = parseConfig(parseYaml(contract), { baseDir: '/etc/gh' })
    assert.equal(c.listen.port, 8080)
    assert.equal(c.providers.office!.options.file, '/etc/gh/users.htpasswd')
    assert.deepEqual(c.routes[0]!.auth!.provider, ['office', 'local'])
    assert.deepEqual(c.routes[1]!.auth!.scheme, ['digest', 'basic'])
    assert.deepEqual(c.routes[1]!.auth!.algorithms, ['MD5'], 'an htdigest file holds MD5 only')
    assert.deepEqual(c.routes[2]!.auth!.require, { groups: ['staff'] })
    assert.equal(c.routes[3]!.auth, undefined)
    assert.equal(c.identityHeaders.user, 'X-Remote-User')
  })

  test('provider threads default to nice 15; a nice outside 0–19 is named by its key path', () => {
    const c = parseConfig(parseYaml(contract), { baseDir: '/etc/gh' })
    assert.equal(c.providers.office!.nice, 15)
    assert.equal(c.providers.office!.options.nice, undefined, 'nice is not a provider option')
    const raw = parseYaml(contract) as { providers: Record<string, Record<string, unknown>> }
    raw.providers.local!.nice = 0
    assert.equal(parseConfig(raw, { baseDir: '/etc/gh' }).providers.local!.nice, 0)
    raw.providers.local!.nice = 20
    assert.match(errorOf(raw), /providers\.local\.nice: expected a value that must be <= 19/)
  })

  test('provider threads rest while the front is busy with a share of 0.25 by default; a share outside (0, 1] is named by its key path', () => {
    const c = parseConfig(parseYaml(contract), { baseDir: '/etc/gh' })
    assert.equal(c.providers.office!.shareWhenBusy, 0.25)
    assert.equal(c.providers.office!.options.shareWhenBusy, undefined, 'shareWhenBusy is not a provider option')
    const raw = parseYaml(contract) as { providers: Record<string, Record<string, unknown>> }
    raw.providers.local!.shareWhenBusy = 1
    assert.equal(parseConfig(raw, { baseDir: '/etc/gh' }).providers.local!.shareWhenBusy, 1)
    raw.providers.local!.shareWhenBusy = 0
    assert.match(errorOf(raw), /providers\.local\.shareWhenBusy: expected a value that must be > 0/)
    raw.providers.local!.shareWhenBusy = 1.5
    assert.match(errorOf(raw), /providers\.local\.shareWhenBusy: expected a value that must be <= 1/)
  })

  test('trustedProxies takes addresses and CIDR ranges; anything else is named by its index', () => {
    const ok = parseConfig(
      { routes: [], trustedProxies: ['127.0.0.1', '10.0.0.0/8', 'fd00::/8'] },
      { baseDir: '/etc/gh' },
    )
    assert.deepEqual(ok.trustedProxies, ['127.0.0.1', '10.0.0.0/8', 'fd00::/8'])
    assert.match(
      errorOf({ routes: [], trustedProxies: ['127.0.0.1', 'proxy.internal'] }),
      /trustedProxies\[1\]: expected an IP address or a CIDR range/,
    )
    assert.match(
      errorOf({ routes: [], trustedProxies: ['10.0.0.0/40'] }),
      /trustedProxies\[0\]: the prefix length of "10.0.0.0\/40" must be 0 to 32/,
    )
  })

  test('sidecar.throttledStatus is 429 by default, 403 on request, and nothing else', () => {
    const routes = [{ path: '/app', auth: { scheme: 'basic', realm: 'R', provider: 'p' } }]
    const providers = { p: { type: 'htpasswd', file: './u' } }
    assert.equal(
      parseConfig({ providers, routes, sidecar: { path: '/auth' } }, { baseDir: '/etc/gh' }).sidecar?.throttledStatus,
      429,
    )
    assert.equal(
      parseConfig({ providers, routes, sidecar: { path: '/auth', throttledStatus: 403 } }, { baseDir: '/etc/gh' })
        .sidecar?.throttledStatus,
      403,
    )
    assert.match(
      errorOf({ providers, routes, sidecar: { path: '/auth', throttledStatus: 500 } }),
      /sidecar\.throttledStatus: expected one of 429, 403/,
    )
  })

  test('sidecar.refusedStatus is 400 by default, 403 on request, and nothing else', () => {
    const routes = [{ path: '/app', auth: { scheme: 'basic', realm: 'R', provider: 'p' } }]
    const providers = { p: { type: 'htpasswd', file: './u' } }
    assert.equal(
      parseConfig({ providers, routes, sidecar: { path: '/auth' } }, { baseDir: '/etc/gh' }).sidecar?.refusedStatus,
      400,
    )
    assert.equal(
      parseConfig({ providers, routes, sidecar: { path: '/auth', refusedStatus: 403 } }, { baseDir: '/etc/gh' }).sidecar
        ?.refusedStatus,
      403,
    )
    assert.match(
      errorOf({ providers, routes, sidecar: { path: '/auth', refusedStatus: 500 } }),
      /sidecar\.refusedStatus: expected one of 400, 403/,
    )
  })

  test('a malformed duration names its key and the forms it may take', () => {
    const raw = { providers: { p: { type: 'htpasswd', file: './u', timeout: '5 min' } }, routes: [] }
    assert.match(
      errorOf(raw),
      /providers\.p\.timeout: expected seconds \(a number\) or a number with a unit: "250ms", "30s", "5m", "1h"/,
    )
  })

  test('a wrong scheme is named by its key path', () => {
    assert.match(
      errorOf({ routes: [{ path: '/a', auth: { scheme: 'ntlm', realm: 'R', provider: 'p' } }] }),
      /routes\[0\]\.auth\.scheme: expected one of "basic", "digest"/,
    )
  })

  test('an unknown key is named', () => {
    assert.match(errorOf({ routes: [], listen: { hots: 'x' } }), /listen\.hots: unknown key/)
  })

  test('a port of the wrong type is named', () => {
    assert.match(
      errorOf({ routes: [], listen: { port: 'eighty' } }),
      /listen\.port: expected a value that must be integer/,
    )
  })

  test('a route naming a provider that does not exist is refused', () => {
    assert.match(
      errorOf({ routes: [{ path: '/a', upstream: 'http://x', auth: { realm: 'R', provider: 'nope' } }] }),
      /routes\[0\]\.auth\.provider: no provider or group named nope/,
    )
  })

  test('Digest with a provider that has no realm hashes is refused by name', () => {
    const msg = errorOf({
      providers: { office: { type: 'htpasswd', file: 'f' } },
      routes: [{ path: '/a', upstream: 'http://x', auth: { scheme: 'digest', realm: 'R', provider: 'office' } }],
    })
    assert.match(
      msg,
      /routes\[0\]\.auth\.scheme: provider office \(type htpasswd\) has no getRealmHash, so it cannot serve Digest/,
    )
  })

  test('md5: false removes MD5 from the algorithms offered', () => {
    const c = parseConfig(
      {
        providers: { d: { type: 'sqlite', database: 'f' } },
        routes: [
          { path: '/a', upstream: 'http://x', auth: { scheme: 'digest', realm: 'R', provider: 'd', md5: false } },
        ],
      },
      { baseDir: '/' },
    )
    assert.deepEqual(c.routes[0]!.auth!.algorithms, ['SHA-256'])
  })

  test('Digest algorithms a provider cannot serve are refused when asked for by name', () => {
    const msg = errorOf({
      providers: { d: { type: 'htdigest', file: 'f' } },
      routes: [{ path: '/a', auth: { scheme: 'digest', realm: 'R', provider: 'd', algorithms: ['SHA-256', 'MD5'] } }],
    })
    assert.match(
      msg,
      /routes\[0\]\.auth\.algorithms: provider d \(type htdigest\) serves only MD5, MD5-sess, not SHA-256/,
    )
    assert.match(
      errorOf({
        providers: { d: { type: 'htdigest', file: 'f' } },
        routes: [{ path: '/a', auth: { scheme: 'digest', realm: 'R', provider: 'd', md5: false } }],
      }),
      /no Digest algorithm left/,
    )
  })

  test('a missing required provider option names the key', () => {
    assert.match(
      errorOf({ providers: { s: { type: 'sqlite' } }, routes: [] }),
      /providers\.s\.database: required for type sqlite/,
    )
  })

  test('two routes with the same path are refused', () => {
    assert.match(
      errorOf({
        routes: [
          { path: '/a', upstream: 'http://x' },
          { path: '/a/', upstream: 'http://y' },
        ],
      }),
      /routes\[1\]\.path: \/a is already used/,
    )
  })

  test('a realm with a quote is refused', () => {
    assert.match(
      errorOf({
        providers: { d: { type: 'htdigest', file: 'f' } },
        routes: [{ path: '/a', auth: { realm: 'a"b', provider: 'd' } }],
      }),
      /routes\[0\]\.auth\.realm: expected text without quotes/,
    )
  })

  test('a misspelt key of a built-in provider is an error naming the key, the type and the keys it takes', () => {
    const msg = errorOf({ providers: { office: { type: 'htpasswd', file: './users', plaintxt: true } }, routes: [] })
    assert.equal(
      msg,
      'invalid configuration: providers.office.plaintxt: unknown key for type htpasswd (expected one of: file, groupFile, plaintext, watchIntervalMs, type, threads, threadsAtStart, timeout, concurrency, queueTimeout, nice, shareWhenBusy)',
    )
  })

  test('an option of another built-in type is unknown to this one', () => {
    assert.match(
      errorOf({ providers: { s: { type: 'sqlite', file: './users.sqlite' } }, routes: [] }),
      /providers\.s\.file: unknown key for type sqlite \(expected one of: database, busyTimeout, watchIntervalMs, type,/,
    )
    assert.match(
      errorOf({ providers: { d: { type: 'htdigest', file: 'f', plaintext: true } }, routes: [] }),
      /providers\.d\.plaintext: unknown key for type htdigest \(expected one of: file, groupFile, watchIntervalMs,/,
    )
    assert.match(
      errorOf({ providers: { d: { type: 'django', database: 'db', module: './x.js' } }, routes: [] }),
      /providers\.d\.module: unknown key for type django/,
    )
  })

  test('every option each built-in provider reads is accepted and passed on', () => {
    const c = parseConfig(
      {
        providers: {
          a: {
            type: 'htpasswd',
            file: 'p',
            groupFile: 'g',
            plaintext: true,
            watchIntervalMs: 100,
            threads: 1,
            timeout: '5s',
            concurrency: 2,
            queueTimeout: 1,
            nice: 10,
          },
          b: { type: 'htdigest', file: 'd', groupFile: 'g', watchIntervalMs: 50 },
          c: { type: 'sqlite', database: 's', busyTimeout: 200 },
          d: { type: 'django', database: 'db', busyTimeout: 0 },
        },
        routes: [],
      },
      { baseDir: '/etc/gh' },
    )
    assert.deepEqual(c.providers.a!.options, {
      file: '/etc/gh/p',
      groupFile: '/etc/gh/g',
      plaintext: true,
      watchIntervalMs: 100,
    })
    assert.deepEqual(c.providers.b!.options, { file: '/etc/gh/d', groupFile: '/etc/gh/g', watchIntervalMs: 50 })
    assert.deepEqual(c.providers.c!.options, { database: '/etc/gh/s', busyTimeout: 200 })
    assert.deepEqual(c.providers.d!.options, { database: '/etc/gh/db', busyTimeout: 0 })
  })

  test('built-in provider options of the wrong type are named by their key path', () => {
    const msg = errorOf({
      providers: { office: { type: 'htpasswd', file: 'f', plaintext: 'yes', watchIntervalMs: 5 } },
      routes: [],
    })
    assert.match(msg, /providers\.office\.plaintext: expected a value that must be boolean/)
    assert.match(msg, /providers\.office\.watchIntervalMs: expected a value that must be >= 10/)
  })

  test('a module provider keeps any other key as its own option', () => {
    const c = parseConfig(
      {
        providers: { m: { type: 'module', module: './m.js', plaintxt: true, url: 'ldap://x', plaintext: 'anything' } },
        routes: [],
      },
      { baseDir: '/etc/gh' },
    )
    assert.deepEqual(c.providers.m!.options, { plaintxt: true, url: 'ldap://x', plaintext: 'anything' })
  })

  test('a misspelt require names the forms it may take', () => {
    const raw = (require: unknown) => ({
      providers: { d: { type: 'htdigest', file: 'f' } },
      routes: [{ path: '/a', auth: { realm: 'R', provider: 'd', require } }],
    })
    assert.equal(
      errorOf(raw('valid-usr')),
      'invalid configuration: routes[0].auth.require: expected "valid-user", { users: [...] } or { groups: [...] } (or both lists)',
    )
    const nested = errorOf(raw({ userz: ['alice'] }))
    assert.match(
      nested,
      /routes\[0\]\.auth\.require: expected "valid-user", \{ users: \[\.\.\.\] \} or \{ groups: \[\.\.\.\] \}/,
    )
    assert.match(nested, /routes\[0\]\.auth\.require\.userz: unknown key/)
    assert.doesNotMatch(nested, /constant/)
    assert.deepEqual(
      parseConfig(raw({ users: ['alice'], groups: ['staff'] }), { baseDir: '/' }).routes[0]!.auth!.require,
      { users: ['alice'], groups: ['staff'] },
    )
  })

  test('durations accept seconds and units', () => {
    assert.equal(durationMs(2, 0), 2000)
    assert.equal(durationMs('250ms', 0), 250)
    assert.equal(durationMs('5m', 0), 300000)
    assert.equal(durationMs(undefined, 7), 7)
  })
})
