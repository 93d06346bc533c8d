/**
 * Every default of the configuration file, in one table keyed by the key path as
 * docs/configuration.md names it, and written as the file would write it (durations as "10s").
 * parseConfig fills in from here, the provider runtime and the library take their own defaults
 * from here, and test/unit/config-docs.test.ts checks that the docs state each value as written.
 * Defaults that are another key's value (`routes[].bodyLimit` is `limits.bodyLimit`) or depend
 * on the machine or the file's place (`groups.NAME.cwd`) are computed where they are applied.
 * It imports only duration.ts, itself a leaf, so every layer may read it.
 */
import { durationMs } from './duration.js'

export const DEFAULTS = {
  'listen.host': '127.0.0.1',
  'listen.port': 8080,
  'listen.http2': false,

  'providers.NAME.threads': 2,
  'providers.NAME.threadsAtStart': 1,
  'providers.NAME.timeout': '10s',
  'providers.NAME.concurrency': 1,
  // Provider threads run below the front's priority: the front's threads get a CPU first.
  'providers.NAME.nice': 15,
  'providers.NAME.shareWhenBusy': 0.25,

  'groups.NAME.python': 'python3',
  'groups.NAME.pythonPath': [],
  'groups.NAME.threads': 15,
  'groups.NAME.providerOptions': {},
  'groups.NAME.providerTimeout': '10s',
  'groups.NAME.providerConcurrency': 64,
  'groups.NAME.providerQueueTimeout': '1s',
  'groups.NAME.processes': 1,
  'groups.NAME.idleTime': '30s',
  'groups.NAME.concurrency': 100,
  'groups.NAME.env': {},
  'groups.NAME.execArgv': [],
  'groups.NAME.maxRequests': 0,
  'groups.NAME.requestTimeout': '60s',
  'groups.NAME.gracefulTimeout': '15s',
  'groups.NAME.inactivityTimeout': 0,
  'groups.NAME.queueTimeout': '10s',
  'groups.NAME.reloadOn': [],
  'groups.NAME.fileRoots': [],

  'routes[].caseSensitive': false,
  'routes[].auth.scheme': 'basic',
  'routes[].auth.require': 'valid-user',
  'routes[].auth.algorithms': ['SHA-256', 'MD5'],
  'routes[].auth.md5': true,
  'routes[].auth.qop': ['auth'],
  'routes[].auth.userhash': false,
  'routes[].auth.proxy': false,
  'routes[].auth.passAuthorization': false,
  'routes[].auth.cache': true,
  'routes[].auth.throttle': true,

  'identityHeaders.user': 'X-Remote-User',
  'identityHeaders.groups': 'X-Remote-Groups',
  'identityHeaders.strip': [],
  trustedProxies: [],

  'sidecar.refusedStatus': 400,
  'sidecar.throttledStatus': 429,

  'digest.nonceTtl': '5m',
  'cache.ttl': '5m',
  'cache.maxEntries': 10000,
  'log.level': 'info',

  'session.loginPath': '/.gatehouse/login',
  'session.logoutPath': '/.gatehouse/logout',
  'session.cookie.name': 'gatehouse_session',
  'session.idleTimeout': '30m',
  'session.lifetime': '12h',

  'throttle.enabled': true,
  'throttle.window': '10m',
  'throttle.lockout': '5m',
  'throttle.maxLockout': '1h',
  'throttle.delay': '100ms',
  'throttle.maxDelay': '2s',
  'throttle.maxEntries': 10000,
  'throttle.perAddress.maxFailures': 20,
  'throttle.perUser.maxFailures': 50,

  'limits.maxHeaderSize': 16384,
  'limits.maxHeaderFields': 100,
  // Short enough against slowloris, long enough for a slow mobile link.
  'limits.headersTimeout': '20s',
  'limits.requestTimeout': '5m',
  'limits.keepAliveTimeout': '72s',
  'limits.maxConnections': 10000,
  // nginx's http2_max_concurrent_streams is 128, Node's own default unbounded: with maxConnections this caps requests in flight.
  'limits.maxConcurrentStreams': 100,
  'limits.bodyLimit': 0,

  'admin.host': '127.0.0.1',
  'admin.port': 9090,

  'state.prefix': 'gatehouse:',
  // A Redis on the same network answers in well under a millisecond.
  'state.timeout': '250ms',

  // One front in the gatehouse process until a measurement says more is better by default.
  workers: 1,
} as const

export type DefaultKey = keyof typeof DEFAULTS

/** The keys whose default is a duration: seconds, or a string with a unit. */
type DurationKey = {
  [K in DefaultKey]: (typeof DEFAULTS)[K] extends `${number}${'ms' | 's' | 'm' | 'h'}` ? K : never
}[DefaultKey]

/** A duration key's default in milliseconds. */
export function defaultMs(key: DurationKey | 'groups.NAME.inactivityTimeout'): number {
  return durationMs(DEFAULTS[key], Number.NaN)
}

/** A default as docs/configuration.md writes it: `10s`, `[SHA-256, MD5]`, `{}`. */
export function formatDefault(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(formatDefault).join(', ')}]`
  if (typeof value === 'object' && value !== null) return JSON.stringify(value)
  return String(value)
}

/** "(default 10s)", for the schema's descriptions. */
export function defaultNote(key: DefaultKey): string {
  return `(default ${formatDefault(DEFAULTS[key])})`
}
