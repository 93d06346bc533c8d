/**
 * parseConfig fills every key it is not given from the table of defaults (src/config/defaults.ts):
 * a configuration that names each section but sets nothing comes back with the table's values,
 * durations in milliseconds, for every key of the table.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseConfig } from '../../src/config/parse.js'
import { DEFAULTS, type DefaultKey } from '../../src/config/defaults.js'
import { durationMs } from '../../src/config/duration.js'
import type { Config } from '../../src/config/types.js'
import { buildSpawnSpec } from '../../src/daemon/spawn-spec.js'

const config = parseConfig(
  {
    providers: { users: { type: 'htpasswd', file: 'users.htpasswd' } },
    groups: { app: { app: 'app.mjs' }, elastic: { app: 'app.mjs', processes: { min: 1, max: 2 } } },
    routes: [{ path: '/', group: 'app', auth: { realm: 'R', provider: 'users' } }],
    sidecar: { path: '/auth' },
    admin: {},
    state: { redis: 'redis://127.0.0.1:6379' },
  },
  { baseDir: '/srv' },
)

const provider = config.providers.users!
const group = config.groups.app!
const auth = config.routes[0]!.auth!
const sessionKey = (c: Config) => c.session

/** Where parseConfig puts each key's value. Durations come back in milliseconds. */
const READ: Record<Exclude<DefaultKey, 'groups.NAME.python'>, (c: Config) => unknown> = {
  'listen.host': (c) => c.listen.host,
  'listen.port': (c) => c.listen.port,
  'listen.http2': (c) => c.listen.http2,
  'providers.NAME.threads': () => provider.threads,
  'providers.NAME.threadsAtStart': () => provider.threadsAtStart,
  'providers.NAME.timeout': () => provider.callTimeoutMs,
  'providers.NAME.concurrency': () => provider.concurrency,
  'providers.NAME.nice': () => provider.nice,
  'providers.NAME.shareWhenBusy': () => provider.shareWhenBusy,
  'groups.NAME.pythonPath': () => group.pythonPath,
  'groups.NAME.threads': () => group.threads,
  'groups.NAME.providerOptions': () => group.providerOptions,
  'groups.NAME.providerTimeout': () => group.providerTimeoutMs,
  'groups.NAME.providerConcurrency': () => group.providerConcurrency,
  'groups.NAME.providerQueueTimeout': () => group.providerQueueTimeoutMs,
  'groups.NAME.processes': () => group.processes,
  'groups.NAME.idleTime': (c) => c.groups.elastic!.idleTimeMs,
  'groups.NAME.concurrency': () => group.concurrency,
  'groups.NAME.env': () => group.env,
  'groups.NAME.execArgv': () => group.execArgv,
  'groups.NAME.maxRequests': () => group.maxRequests,
  'groups.NAME.requestTimeout': () => group.requestTimeoutMs,
  'groups.NAME.gracefulTimeout': () => group.gracefulTimeoutMs,
  'groups.NAME.inactivityTimeout': () => group.inactivityTimeoutMs,
  'groups.NAME.queueTimeout': () => group.queueTimeoutMs,
  'groups.NAME.reloadOn': () => group.reloadOn,
  'groups.NAME.fileRoots': () => group.fileRoots,
  'routes[].caseSensitive': (c) => c.routes[0]!.caseSensitive ?? false,
  'routes[].auth.scheme': () => auth.scheme.join(),
  'routes[].auth.require': () => (Object.keys(auth.require).length === 0 ? 'valid-user' : auth.require),
  'routes[].auth.algorithms': () => auth.algorithms,
  'routes[].auth.md5': () => auth.algorithms.includes('MD5'),
  'routes[].auth.qop': () => auth.qop,
  'routes[].auth.userhash': () => auth.userhash,
  'routes[].auth.proxy': () => auth.proxy,
  'routes[].auth.passAuthorization': () => auth.passAuthorization,
  'routes[].auth.cache': () => auth.cache.enabled,
  'routes[].auth.throttle': () => auth.throttle,
  'identityHeaders.user': (c) => c.identityHeaders.user,
  'identityHeaders.groups': (c) => c.identityHeaders.groups,
  'identityHeaders.strip': (c) => c.identityHeaders.strip,
  trustedProxies: (c) => c.trustedProxies,
  'sidecar.refusedStatus': (c) => c.sidecar!.refusedStatus,
  'sidecar.throttledStatus': (c) => c.sidecar!.throttledStatus,
  'digest.nonceTtl': (c) => c.digest.nonceTtlMs,
  'cache.ttl': (c) => c.cache.ttlMs,
  'cache.maxEntries': (c) => c.cache.maxEntries,
  'log.level': (c) => c.log.level,
  'session.loginPath': (c) => sessionKey(c).loginPath,
  'session.logoutPath': (c) => sessionKey(c).logoutPath,
  'session.cookie.name': (c) => sessionKey(c).cookieName,
  'session.idleTimeout': (c) => sessionKey(c).idleTimeoutMs,
  'session.lifetime': (c) => sessionKey(c).lifetimeMs,
  'throttle.enabled': (c) => c.throttle.enabled,
  'throttle.window': (c) => c.throttle.perAddress!.windowMs,
  'throttle.lockout': (c) => c.throttle.perAddress!.lockoutMs,
  'throttle.maxLockout': (c) => c.throttle.maxLockoutMs,
  'throttle.delay': (c) => c.throttle.delayMs,
  'throttle.maxDelay': (c) => c.throttle.maxDelayMs,
  'throttle.maxEntries': (c) => c.throttle.maxEntries,
  'throttle.perAddress.maxFailures': (c) => c.throttle.perAddress!.maxFailures,
  'throttle.perUser.maxFailures': (c) => c.throttle.perUser!.maxFailures,
  'limits.maxHeaderSize': (c) => c.limits.maxHeaderSize,
  'limits.maxHeaderFields': (c) => c.limits.maxHeaderFields,
  'limits.headersTimeout': (c) => c.limits.headersTimeoutMs,
  'limits.requestTimeout': (c) => c.limits.requestTimeoutMs,
  'limits.keepAliveTimeout': (c) => c.limits.keepAliveTimeoutMs,
  'limits.maxConnections': (c) => c.limits.maxConnections,
  'limits.maxConcurrentStreams': (c) => c.limits.maxConcurrentStreams,
  'limits.bodyLimit': (c) => c.limits.bodyLimit,
  'admin.host': (c) => (c.admin?.kind === 'tcp' ? c.admin.host : undefined),
  'admin.port': (c) => (c.admin?.kind === 'tcp' ? c.admin.port : undefined),
  'state.prefix': (c) => c.state!.prefix,
  'state.timeout': (c) => c.state!.timeoutMs,
  workers: (c) => c.workers,
}

/** The keys whose default is a duration, as the schema types them. */
const DURATIONS = /(timeout|Timeout|ttl|Ttl|window|lockout|Lockout|delay|Delay|idleTime|lifetime)$/

test('a configuration that sets nothing gets every default of the table, durations in milliseconds', () => {
  const wrong = Object.entries(READ)
    .map(([key, read]) => {
      const value = DEFAULTS[key as DefaultKey]
      const expected = DURATIONS.test(key) ? durationMs(value as number | string, Number.NaN) : value
      return { key, expected, got: read(config) }
    })
    .filter((r) => JSON.stringify(r.got) !== JSON.stringify(r.expected))
  assert.deepEqual(wrong, [])
})

test("a wsgi group without python is spawned with the table's interpreter (groups.NAME.python)", () => {
  const wsgi = parseConfig({ groups: { py: { wsgi: 'app.wsgi' } }, routes: [] }, { baseDir: '/srv' })
  assert.equal(wsgi.groups.py!.python, undefined)
  assert.equal(buildSpawnSpec(wsgi.groups.py!, {}).command, DEFAULTS['groups.NAME.python'])
})
