/**
 * parseConfig(raw, { baseDir }) → Config. Pure: validates every key against the schema, fills
 * defaults, resolves relative paths against the config file's directory, and cross-checks
 * names (routes → providers and groups). Every error names the key path and what was expected.
 */
import { isAbsolute, resolve } from 'node:path'
import type { ErrorObject } from 'ajv'
// The schema (config-schema.ts) compiled ahead of time by scripts/config-validator.ts: the front does
// not load ajv's compiler. verbose: errors carry their schema, whose annotations (x-expected,
// x-builtin-type) word the messages.
import { validateConfig as validate } from './config-validate.generated.js'
import { errors } from './errors.js'
import type { DigestAlgorithmName } from './auth/digest.js'
import { parseAdmin, type RawAdmin } from './config-admin.js'
import { parseSession, type RawSession } from './config-session.js'
import { DEFAULT_STATE_TIMEOUT_MS, parseState, type RawState } from './config-state.js'
import type {
  AuthConfig,
  Config,
  GroupConfig,
  ProviderConfig,
  RequireConfig,
  RouteConfig,
  Scheme,
  SidecarConfig,
} from './config-types.js'
import { parseLimits, parseThrottle, type RawLimits, type RawThrottle } from './config-hardening.js'
import { durationMs } from './config-duration.js'
import { DEFAULT_NICE, DEFAULT_SHARE_WHEN_BUSY } from './providers/thread-pool.js'
import { trustedProxyProblem } from './proxy/trusted-proxies.js'

// Callers read durations through config.ts; config-duration.ts holds the function so that
// config-hardening.ts can use it without importing config.ts back.
export { durationMs }

/** Built-in provider types and whether they can serve Digest (have getRealmHash). */
export const builtinProviders: Record<string, { digest: boolean; algorithms?: readonly DigestAlgorithmName[] }> = {
  htpasswd: { digest: false },
  // An htdigest file holds MD5 HA1s only: offering SHA-256 first would send curl and Chromium
  // down an algorithm this provider can never answer.
  htdigest: { digest: true, algorithms: ['MD5', 'MD5-sess'] },
  sqlite: { digest: true },
  django: { digest: false },
}

export interface ParseOptions {
  baseDir: string
}

/** Headers the message cannot be read or routed without: never client identity, never strippable. */
const MESSAGE_FRAMING = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'content-type',
  'connection',
  'te',
  'upgrade',
  'expect',
])

export function parseConfig(raw: unknown, { baseDir }: ParseOptions): Config {
  if (!validate(raw)) throw errors.GH_ERR_CONFIG_INVALID(formatSchemaErrors(validate.errors ?? []))
  const doc = raw as RawConfig
  const problems: string[] = []
  const at = (p: string) => (v: string) => resolvePath(baseDir, p, v)

  const providers: Record<string, ProviderConfig> = {}
  for (const [name, p] of Object.entries(doc.providers ?? {})) {
    providers[name] = parseProvider(name, p, baseDir, problems)
  }
  ;(doc.trustedProxies ?? []).forEach((entry, i) => {
    const problem = trustedProxyProblem(entry)
    if (problem !== undefined) problems.push(`trustedProxies[${i}]: ${problem}`)
  })
  const groups: Record<string, GroupConfig> = {}
  for (const [name, g] of Object.entries(doc.groups ?? {})) {
    if (name in providers) problems.push(`groups.${name}: the name is also used under providers; names must be unique`)
    groups[name] = parseGroup(name, g, baseDir)
    if ((g.app === undefined) === (g.wsgi === undefined))
      problems.push(`groups.${name}: give exactly one of app (a Node app) or wsgi (a Python WSGI file)`)
    if (g.wsgi === undefined) {
      for (const key of ['python', 'pythonPath', 'threads'] as const) {
        if (g[key] !== undefined) problems.push(`groups.${name}.${key}: only with wsgi`)
      }
    } else {
      for (const key of ['node', 'execArgv'] as const) {
        if (g[key] !== undefined) problems.push(`groups.${name}.${key}: only with app (a Node app), not with wsgi`)
      }
      if (g.providerOptions !== undefined)
        problems.push(`groups.${name}.providerOptions: only with app (a mod_wsgi auth script takes no options)`)
      if (g.concurrency !== undefined)
        problems.push(`groups.${name}.concurrency: with wsgi, set threads (each thread serves one request at a time)`)
    }
    if (typeof g.processes === 'object' && g.processes.max < g.processes.min)
      problems.push(
        `groups.${name}.processes.max: expected at least processes.min (${g.processes.min}), got ${g.processes.max}`,
      )
    if (g.idleTime !== undefined && typeof g.processes !== 'object')
      problems.push(`groups.${name}.idleTime: only with processes: { min, max }`)
    if (groups[name]!.idleTimeMs !== undefined && groups[name]!.idleTimeMs! <= 0)
      problems.push(`groups.${name}.idleTime: expected more than 0`)
    if (
      !g.provider &&
      (g.providerOptions ||
        g.providerTimeout !== undefined ||
        g.providerConcurrency !== undefined ||
        g.providerQueueTimeout !== undefined)
    ) {
      problems.push(
        `groups.${name}.provider: required when the group has provider options (providerOptions, providerTimeout, providerConcurrency, providerQueueTimeout)`,
      )
    }
    if (groups[name]!.providerTimeoutMs <= 0)
      problems.push(`groups.${name}.providerTimeout: expected more than 0 (a call must not wait forever)`)
  }
  const routes = (doc.routes ?? []).map((r, i) => parseRoute(r, `routes[${i}]`, providers, groups, problems))
  checkCaseDistinct(routes, problems)
  const seen = new Set<string>()
  routes.forEach((r, i) => {
    if (seen.has(r.path)) problems.push(`routes[${i}].path: ${r.path} is already used by an earlier route`)
    seen.add(r.path)
  })
  const identityHeaders = {
    user: doc.identityHeaders?.user ?? 'X-Remote-User',
    groups: doc.identityHeaders?.groups ?? 'X-Remote-Groups',
    strip: doc.identityHeaders?.strip ?? [],
  }
  identityHeaders.strip.forEach((name, i) => {
    if (MESSAGE_FRAMING.has(name.toLowerCase()))
      problems.push(
        `identityHeaders.strip[${i}]: ${name} frames or routes the message itself; stripping it would break every request`,
      )
    if (name.toLowerCase() === 'authorization')
      problems.push(
        `identityHeaders.strip[${i}]: use a route's auth.passAuthorization: false to keep Authorization from the target`,
      )
  })
  const sidecar = doc.sidecar ? parseSidecar(doc.sidecar, routes, identityHeaders, problems) : undefined
  const admin = doc.admin ? parseAdmin(doc.admin, baseDir, problems) : undefined
  const session = parseSession(doc.session, routes, sidecar?.path, baseDir, durationMs, problems)
  const state = doc.state
    ? parseState(doc.state, durationMs(doc.state.timeout, DEFAULT_STATE_TIMEOUT_MS), problems)
    : undefined
  // Browsers speak HTTP/2 only over TLS (ALPN); cleartext h2c would also let a client skip the HTTP/1.1 parser's checks by prior knowledge.
  if (doc.listen?.http2 === true && !doc.listen.tls)
    problems.push('listen.http2: needs listen.tls (HTTP/2 is served over TLS only; cleartext h2c is not supported)')
  if (problems.length > 0) throw errors.GH_ERR_CONFIG_INVALID(problems.join('; '))

  return {
    baseDir,
    listen: {
      host: doc.listen?.host ?? '127.0.0.1',
      port: doc.listen?.port ?? 8080,
      http2: doc.listen?.http2 === true,
      ...(doc.listen?.tls
        ? { tls: { cert: at('listen.tls.cert')(doc.listen.tls.cert), key: at('listen.tls.key')(doc.listen.tls.key) } }
        : {}),
    },
    providers,
    groups,
    routes,
    identityHeaders,
    trustedProxies: doc.trustedProxies ?? [],
    ...(sidecar ? { sidecar } : {}),
    digest: {
      secret: doc.digest?.secret ?? '',
      ...(doc.digest?.secretFile ? { secretFile: resolve(baseDir, doc.digest.secretFile) } : {}),
      nonceTtlMs: durationMs(doc.digest?.nonceTtl, 300_000),
    },
    session,
    cache: { maxEntries: doc.cache?.maxEntries ?? 10_000, ttlMs: durationMs(doc.cache?.ttl, 300_000) },
    throttle: parseThrottle(doc.throttle),
    limits: parseLimits(doc.limits),
    log: { level: doc.log?.level ?? 'info' },
    ...(admin ? { admin } : {}),
    ...(state ? { state } : {}),
  }
}

function parseProvider(name: string, p: RawProvider, baseDir: string, problems: string[]): ProviderConfig {
  const { type, module, threads, threadsAtStart, timeout, concurrency, queueTimeout, nice, shareWhenBusy, ...rest } = p
  const options: Record<string, unknown> = { ...rest }
  for (const key of ['file', 'database', 'groupFile']) {
    if (typeof options[key] === 'string') options[key] = resolve(baseDir, options[key] as string)
  }
  if (type === 'module' && !module)
    problems.push(`providers.${name}.module: required when type is module (a path to the provider module)`)
  if ((type === 'htpasswd' || type === 'htdigest') && typeof options.file !== 'string')
    problems.push(`providers.${name}.file: required for type ${type} (the path of the ${type} file)`)
  if ((type === 'sqlite' || type === 'django') && typeof options.database !== 'string')
    problems.push(`providers.${name}.database: required for type ${type} (the path of the SQLite database)`)
  if (threadsAtStart !== undefined && threadsAtStart > (threads ?? 2))
    problems.push(`providers.${name}.threadsAtStart: at most threads (${threads ?? 2}), got ${threadsAtStart}`)
  return {
    name,
    type,
    module: type === 'module' ? resolve(baseDir, module ?? '') : type,
    options,
    threads: threads ?? 2,
    threadsAtStart: Math.min(threadsAtStart ?? 1, threads ?? 2),
    callTimeoutMs: durationMs(timeout, 10_000),
    concurrency: concurrency ?? 1,
    queueTimeoutMs: durationMs(queueTimeout, durationMs(timeout, 10_000)),
    nice: nice ?? DEFAULT_NICE,
    shareWhenBusy: shareWhenBusy ?? DEFAULT_SHARE_WHEN_BUSY,
  }
}

function parseGroup(name: string, g: RawGroup, baseDir: string): GroupConfig {
  const cwd = resolve(baseDir, g.cwd ?? '.')
  const threads = g.threads ?? 15
  return {
    name,
    kind: g.wsgi !== undefined ? 'python' : 'node',
    app: resolve(baseDir, g.wsgi ?? g.app ?? '.'),
    // A path (./venv/bin/python) is the config file's; a bare name is looked up on PATH.
    ...(g.python ? { python: g.python.includes('/') ? resolve(baseDir, g.python) : g.python } : {}),
    pythonPath: (g.pythonPath ?? []).map((d) => resolve(baseDir, d)),
    threads,
    ...(g.provider ? { provider: resolve(baseDir, g.provider) } : {}),
    providerOptions: g.providerOptions ?? {},
    providerTimeoutMs: durationMs(g.providerTimeout, 10_000),
    providerConcurrency: g.providerConcurrency ?? 64,
    providerQueueTimeoutMs: durationMs(g.providerQueueTimeout, 1_000),
    processes: typeof g.processes === 'object' ? g.processes.min : (g.processes ?? 1),
    ...(typeof g.processes === 'object'
      ? { maxProcesses: g.processes.max, idleTimeMs: durationMs(g.idleTime, 30_000) }
      : {}),
    concurrency: g.wsgi !== undefined ? threads : (g.concurrency ?? 100),
    cwd,
    env: g.env ?? {},
    ...(g.node ? { node: g.node } : {}),
    execArgv: g.execArgv ?? [],
    ...(g.user ? { user: g.user } : {}),
    ...(g.group ? { group: g.group } : {}),
    maxRequests: g.maxRequests ?? 0,
    requestTimeoutMs: durationMs(g.requestTimeout, 60_000),
    gracefulTimeoutMs: durationMs(g.gracefulTimeout, 15_000),
    inactivityTimeoutMs: durationMs(g.inactivityTimeout, 0),
    queueTimeoutMs: durationMs(g.queueTimeout, 10_000),
    reloadOn: (g.reloadOn ?? []).map((f) => resolve(baseDir, f)),
    fileRoots: (g.fileRoots ?? []).map((f) => resolve(baseDir, f)),
  }
}

/** Paths equal once case-folded are one route to a case-insensitive app (proxy/path-rule.ts). */
function checkCaseDistinct(routes: readonly RouteConfig[], problems: string[]): void {
  const seen = new Map<string, number>()
  routes.forEach((r, i) => {
    const folded = r.path.toLowerCase()
    const earlier = seen.get(folded)
    if (
      earlier !== undefined &&
      routes[earlier]!.path !== r.path &&
      !(r.caseSensitive && routes[earlier]!.caseSensitive)
    ) {
      problems.push(
        `routes[${i}].path: ${r.path} differs from routes[${earlier}].path only in case; give both caseSensitive: true if the app tells them apart`,
      )
    }
    if (earlier === undefined) seen.set(folded, i)
  })
}

/**
 * Route paths are matched against decoded, case-folded and `;`-stripped readings of request paths
 * (proxy/path-rule.ts): only unreserved characters keep every reading of a route's own paths on it.
 */
const PLAIN_ROUTE_PATH = /^(\/[A-Za-z0-9._~-]*[A-Za-z0-9_~-])*\/?$/

function parseRoute(
  r: RawRoute,
  key: string,
  providers: Record<string, ProviderConfig>,
  groups: Record<string, GroupConfig>,
  problems: string[],
): RouteConfig {
  if (r.upstream && r.group) problems.push(`${key}: give either upstream or group, not both`)
  if (r.group && !(r.group in groups)) problems.push(`${key}.group: no group named ${r.group} under groups`)
  if (r.upstream) {
    try {
      new URL(r.upstream)
    } catch {
      problems.push(`${key}.upstream: expected an http(s) URL, got ${r.upstream}`)
    }
  }
  if (!PLAIN_ROUTE_PATH.test(r.path))
    problems.push(
      `${key}.path: expected a plain path (segments of letters, digits and - . _ ~, not ending in a dot; no %-escapes, ;, :, * or //), got ${r.path}`,
    )
  const path = r.path.length > 1 ? r.path.replace(/\/+$/, '') : r.path
  const route: RouteConfig = {
    path,
    ...(r.upstream ? { upstream: r.upstream } : {}),
    ...(r.group ? { group: r.group } : {}),
  }
  if (r.caseSensitive !== undefined) route.caseSensitive = r.caseSensitive
  if (r.bodyLimit !== undefined) route.bodyLimit = r.bodyLimit
  if (r.auth) route.auth = parseAuth(r.auth, `${key}.auth`, providers, groups, problems)
  return route
}

function parseAuth(
  a: RawAuth,
  key: string,
  providers: Record<string, ProviderConfig>,
  groups: Record<string, GroupConfig>,
  problems: string[],
): AuthConfig {
  const scheme: Scheme[] = a.scheme === undefined ? ['basic'] : Array.isArray(a.scheme) ? a.scheme : [a.scheme]
  const chain = Array.isArray(a.provider) ? a.provider : [a.provider]
  for (const name of chain) {
    const p = providers[name]
    const g = groups[name]
    if (!p && !g) problems.push(`${key}.provider: no provider or group named ${name}`)
    else if (g && !g.provider)
      problems.push(`${key}.provider: group ${name} has no provider module (set groups.${name}.provider)`)
    else if (p && scheme.includes('digest') && builtinProviders[p.type]?.digest === false) {
      problems.push(`${key}.scheme: provider ${name} (type ${p.type}) has no getRealmHash, so it cannot serve Digest`)
    }
  }
  let algorithms: DigestAlgorithmName[] = a.algorithms ?? ['SHA-256', 'MD5']
  if (a.md5 === false) algorithms = algorithms.filter((x) => !x.startsWith('MD5'))
  if (scheme.includes('digest')) {
    for (const name of chain) {
      const served = builtinProviders[providers[name]?.type ?? '']?.algorithms
      if (!served) continue
      const unserved = algorithms.filter((x) => !served.includes(x))
      if (a.algorithms && unserved.length > 0)
        problems.push(
          `${key}.algorithms: provider ${name} (type ${providers[name]!.type}) serves only ${served.join(', ')}, not ${unserved.join(', ')}`,
        )
      algorithms = algorithms.filter((x) => served.includes(x))
    }
    if (algorithms.length === 0)
      problems.push(
        `${key}.algorithms: no Digest algorithm left that the providers can serve${a.md5 === false ? ' once MD5 is off' : ''}`,
      )
  }
  const require = requireOf(a.require)
  const limitExcept = a.limitExcept && {
    methods: limitMethods(a.limitExcept.methods),
    require: requireOf(a.limitExcept.require),
  }
  const cacheTtl = typeof a.cache === 'object' ? durationMs(a.cache.ttl, -1) : -1
  return {
    scheme,
    realm: a.realm,
    provider: chain,
    require,
    ...(limitExcept ? { limitExcept } : {}),
    algorithms,
    qop: a.qop ?? ['auth'],
    userhash: a.userhash ?? false,
    proxy: a.proxy ?? false,
    passAuthorization: a.passAuthorization ?? false,
    cache: { enabled: a.cache !== false, ttlMs: cacheTtl },
    throttle: a.throttle !== false,
  }
}

function requireOf(raw: RawRequire | undefined): RequireConfig {
  return raw === undefined || raw === 'valid-user' ? {} : raw
}

/** Apache's `<Limit GET>` covers HEAD too: a HEAD is a GET without the body, so it reads what GET reads. */
function limitMethods(methods: string[]): string[] {
  return methods.includes('GET') && !methods.includes('HEAD') ? [...methods, 'HEAD'] : methods
}

/**
 * The sidecar answers for every route, so its path must not be a route's own, and it never sees
 * a request body, so a route that offers Digest with auth-int alone could never be satisfied.
 */
function parseSidecar(
  raw: RawSidecar,
  routes: RouteConfig[],
  identity: { user: string; groups: string },
  problems: string[],
): SidecarConfig {
  const path = raw.path.replace(/\/+$/, '')
  if (path === '') problems.push('sidecar.path: expected a path other than /')
  routes.forEach((r, i) => {
    if (r.path === path) problems.push(`sidecar.path: ${path} is also the path of routes[${i}]`)
    if (r.auth?.scheme.includes('digest') && !r.auth.qop.includes('auth')) {
      problems.push(
        `routes[${i}].auth.qop: with a sidecar, Digest needs qop auth (the sidecar never sees the body auth-int hashes)`,
      )
    }
  })
  const list = (v: string | string[] | undefined, fallback: string[]) =>
    v === undefined ? fallback : Array.isArray(v) ? v : [v]
  return {
    path,
    userHeaders: list(raw.headers?.user, [identity.user, 'Remote-User']),
    groupsHeaders: list(raw.headers?.groups, [identity.groups, 'Remote-Groups']),
    throttledStatus: raw.throttledStatus ?? 429,
    refusedStatus: raw.refusedStatus ?? 400,
  }
}

function resolvePath(baseDir: string, _key: string, value: string): string {
  return isAbsolute(value) ? value : resolve(baseDir, value)
}

/** Turns ajv's errors into "key.path: expected ..." lines, one per offending key. */
export function formatSchemaErrors(list: ErrorObject[]): string {
  const out = new Map<string, string>()
  // A value matching none of the forms of an anyOf that names them (x-expected): ajv's message of the
  // first form alone ("must be equal to constant") would hide the others.
  const forms = new Map<string, string>()
  for (const e of list) {
    const expected =
      e.keyword === 'anyOf' ? (e.parentSchema as { 'x-expected'?: string } | undefined)?.['x-expected'] : undefined
    if (expected !== undefined) forms.set(e.instancePath, expected)
  }
  for (const [pointer, expected] of forms) {
    const key = pointerToPath(pointer)
    out.set(key, `${key || '(top level)'}: expected ${expected}`)
  }
  for (const e of list) {
    if (e.keyword === 'anyOf' || e.keyword === 'if') continue
    if (forms.has(e.instancePath) && e.keyword !== 'additionalProperties') continue
    const path = pointerToPath(e.instancePath)
    let key = path
    let msg: string
    switch (e.keyword) {
      case 'additionalProperties': {
        const extra = (e.params as { additionalProperty: string }).additionalProperty
        key = path ? `${path}.${extra}` : extra
        const type = (e.parentSchema as { 'x-builtin-type'?: string } | undefined)?.['x-builtin-type']
        const known = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {})
        msg = type !== undefined ? `unknown key for type ${type} (expected one of: ${known.join(', ')})` : 'unknown key'
        break
      }
      case 'required': {
        const missing = (e.params as { missingProperty: string }).missingProperty
        key = path ? `${path}.${missing}` : missing
        msg = 'required key is missing'
        break
      }
      case 'enum':
        msg = `expected one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`
        break
      case 'pattern':
        msg = `expected ${describePattern(e.params as { pattern: string })}`
        break
      default:
        msg = `expected a value that ${e.message ?? 'is valid'}`
    }
    if (!out.has(key)) out.set(key, `${key || '(top level)'}: ${msg}`)
  }
  return [...out.values()].join('; ')
}

function describePattern({ pattern }: { pattern: string }): string {
  if (pattern === '^/') return 'a path starting with /'
  if (pattern === '^/.') return 'a path starting with /, other than /'
  if (pattern === '^https?://') return 'an http:// or https:// URL'
  if (pattern.includes('ms|s|m|h')) return 'a duration such as 30, "250ms", "30s", "5m"'
  if (pattern.startsWith('^[A-Za-z0-9-]')) return 'an HTTP header name'
  if (pattern.startsWith('^[^"')) return 'text without quotes, backslashes or control characters'
  return `text matching ${pattern}`
}

function pointerToPath(pointer: string): string {
  if (!pointer) return ''
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, seg) => (/^[0-9]+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '')
}

interface RawConfig {
  listen?: { host?: string; port?: number; http2?: boolean; tls?: { cert: string; key: string } }
  providers?: Record<string, RawProvider>
  groups?: Record<string, RawGroup>
  routes?: RawRoute[]
  identityHeaders?: { user?: string; groups?: string; strip?: string[] }
  trustedProxies?: string[]
  sidecar?: RawSidecar
  session?: RawSession
  digest?: { secret?: string; secretFile?: string; nonceTtl?: number | string }
  cache?: { ttl?: number | string; maxEntries?: number }
  throttle?: RawThrottle
  limits?: RawLimits
  log?: { level?: string }
  admin?: RawAdmin
  state?: RawState
}
type RawProvider = {
  type: string
  module?: string
  threads?: number
  threadsAtStart?: number
  timeout?: number | string
  concurrency?: number
  queueTimeout?: number | string
  nice?: number
  shareWhenBusy?: number
} & Record<string, unknown>
interface RawGroup {
  app?: string
  wsgi?: string
  python?: string
  pythonPath?: string[]
  threads?: number
  provider?: string
  providerOptions?: Record<string, unknown>
  providerTimeout?: number | string
  providerConcurrency?: number
  providerQueueTimeout?: number | string
  processes?: number | { min: number; max: number }
  idleTime?: number | string
  concurrency?: number
  cwd?: string
  env?: Record<string, string>
  node?: string
  execArgv?: string[]
  user?: string
  group?: string
  maxRequests?: number
  requestTimeout?: number | string
  gracefulTimeout?: number | string
  inactivityTimeout?: number | string
  queueTimeout?: number | string
  reloadOn?: string[]
  fileRoots?: string[]
}
interface RawSidecar {
  path: string
  headers?: { user?: string | string[]; groups?: string | string[] }
  throttledStatus?: 429 | 403
  refusedStatus?: 400 | 403
}
interface RawRoute {
  path: string
  upstream?: string
  group?: string
  auth?: RawAuth
  bodyLimit?: number
  caseSensitive?: boolean
}
type RawRequire = 'valid-user' | { users?: string[]; groups?: string[] }
interface RawAuth {
  scheme?: Scheme | Scheme[]
  realm: string
  provider: string | string[]
  require?: RawRequire
  limitExcept?: { methods: string[]; require: RawRequire }
  algorithms?: DigestAlgorithmName[]
  md5?: boolean
  qop?: Array<'auth' | 'auth-int'>
  userhash?: boolean
  proxy?: boolean
  passAuthorization?: boolean
  cache?: boolean | { ttl?: number | string }
  throttle?: boolean
}
