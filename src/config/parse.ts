/**
 * parseConfig(raw, { baseDir }) → Config. Pure: validates every key against the schema, fills
 * defaults, resolves relative paths against the config file's directory, and cross-checks
 * names (routes → providers and groups). Every error names the key path and what was expected.
 */
import { isAbsolute, resolve } from 'node:path'
import { availableParallelism } from 'node:os'
import type { ErrorObject } from 'ajv'
// The schema (schema.ts) compiled ahead of time by scripts/config-validator.ts: the front does
// not load ajv's compiler. verbose: errors carry their schema, whose annotations (x-expected,
// x-builtin-type) word the messages.
import { validateConfig as validate } from './validate.generated.js'
import { errors } from '../errors.js'
import { parseAdmin } from './admin.js'
import { parseSession } from './session.js'
import { parseState } from './state.js'
import type {
  AuthConfig,
  Config,
  DigestAlgorithmName,
  GroupConfig,
  ProviderConfig,
  RequireConfig,
  RouteConfig,
  Scheme,
  SidecarConfig,
} from './types.js'
import { parseLimits, parseThrottle } from './hardening.js'
import type { RawAuth, RawConfig, RawGroup, RawProvider, RawRequire, RawRoute, RawSidecar } from './raw-types.js'
import { durationMs } from './duration.js'
import { DEFAULTS, defaultMs } from './defaults.js'
import { trustedProxyProblem } from './trusted-proxy-entry.js'

// Callers read durations through parse.ts; duration.ts holds the function so that
// hardening.ts can use it without importing parse.ts back.
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
    checkGroup(name, g, groups[name], problems)
  }
  const routes = (doc.routes ?? []).map((r, i) => parseRoute(r, `routes[${i}]`, providers, groups, problems))
  checkCaseDistinct(routes, problems)
  const seen = new Set<string>()
  routes.forEach((r, i) => {
    if (seen.has(r.path)) problems.push(`routes[${i}].path: ${r.path} is already used by an earlier route`)
    seen.add(r.path)
  })
  const identityHeaders = parseIdentityHeaders(doc.identityHeaders, problems)
  const sidecar = doc.sidecar ? parseSidecar(doc.sidecar, routes, identityHeaders, problems) : undefined
  const admin = doc.admin ? parseAdmin(doc.admin, baseDir, problems) : undefined
  const session = parseSession(doc.session, routes, sidecar?.path, baseDir, durationMs, problems)
  const state = doc.state
    ? parseState(doc.state, durationMs(doc.state.timeout, defaultMs('state.timeout')), problems)
    : undefined
  // Browsers speak HTTP/2 only over TLS (ALPN); cleartext h2c would also let a client skip the HTTP/1.1 parser's checks by prior knowledge.
  if (doc.listen?.http2 === true && !doc.listen.tls)
    problems.push('listen.http2: needs listen.tls (HTTP/2 is served over TLS only; cleartext h2c is not supported)')
  if (problems.length > 0) throw errors.GH_ERR_CONFIG_INVALID(problems.join('; '))

  return {
    baseDir,
    listen: {
      host: doc.listen?.host ?? DEFAULTS['listen.host'],
      port: doc.listen?.port ?? DEFAULTS['listen.port'],
      http2: doc.listen?.http2 ?? DEFAULTS['listen.http2'],
      ...(doc.listen?.tls
        ? { tls: { cert: at('listen.tls.cert')(doc.listen.tls.cert), key: at('listen.tls.key')(doc.listen.tls.key) } }
        : {}),
    },
    providers,
    groups,
    routes,
    identityHeaders,
    trustedProxies: doc.trustedProxies ?? [...DEFAULTS.trustedProxies],
    ...(sidecar ? { sidecar } : {}),
    digest: {
      secret: doc.digest?.secret ?? '',
      ...(doc.digest?.secretFile ? { secretFile: resolve(baseDir, doc.digest.secretFile) } : {}),
      nonceTtlMs: durationMs(doc.digest?.nonceTtl, defaultMs('digest.nonceTtl')),
    },
    session,
    cache: {
      maxEntries: doc.cache?.maxEntries ?? DEFAULTS['cache.maxEntries'],
      ttlMs: durationMs(doc.cache?.ttl, defaultMs('cache.ttl')),
    },
    throttle: parseThrottle(doc.throttle),
    limits: parseLimits(doc.limits),
    log: { level: doc.log?.level ?? DEFAULTS['log.level'] },
    workers: doc.workers === 'auto' ? availableParallelism() : (doc.workers ?? DEFAULTS['workers']),
    ...(admin ? { admin } : {}),
    ...(state ? { state } : {}),
  }
}

/** What the schema cannot say of a daemon group: keys that go with app or wsgi only, and ranges between keys. */
function checkGroup(name: string, g: RawGroup, parsed: GroupConfig, problems: string[]): void {
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
  if (parsed.idleTimeMs !== undefined && parsed.idleTimeMs <= 0)
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
  if (parsed.providerTimeoutMs <= 0)
    problems.push(`groups.${name}.providerTimeout: expected more than 0 (a call must not wait forever)`)
}

/** The identity headers with their defaults; a stripped name may not be one that frames the message or Authorization. */
function parseIdentityHeaders(raw: RawConfig['identityHeaders'], problems: string[]): Config['identityHeaders'] {
  const identityHeaders = {
    user: raw?.user ?? DEFAULTS['identityHeaders.user'],
    groups: raw?.groups ?? DEFAULTS['identityHeaders.groups'],
    strip: raw?.strip ?? [...DEFAULTS['identityHeaders.strip']],
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
  return identityHeaders
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
  const threadCount = threads ?? DEFAULTS['providers.NAME.threads']
  if (threadsAtStart !== undefined && threadsAtStart > threadCount)
    problems.push(`providers.${name}.threadsAtStart: at most threads (${threadCount}), got ${threadsAtStart}`)
  const callTimeoutMs = durationMs(timeout, defaultMs('providers.NAME.timeout'))
  return {
    name,
    type,
    module: type === 'module' ? resolve(baseDir, module ?? '') : type,
    options,
    threads: threadCount,
    threadsAtStart: Math.min(threadsAtStart ?? DEFAULTS['providers.NAME.threadsAtStart'], threadCount),
    callTimeoutMs,
    concurrency: concurrency ?? DEFAULTS['providers.NAME.concurrency'],
    queueTimeoutMs: durationMs(queueTimeout, callTimeoutMs),
    nice: nice ?? DEFAULTS['providers.NAME.nice'],
    shareWhenBusy: shareWhenBusy ?? DEFAULTS['providers.NAME.shareWhenBusy'],
  }
}

function parseGroup(name: string, g: RawGroup, baseDir: string): GroupConfig {
  const cwd = resolve(baseDir, g.cwd ?? '.')
  const threads = g.threads ?? DEFAULTS['groups.NAME.threads']
  return {
    name,
    kind: g.wsgi !== undefined ? 'python' : 'node',
    app: resolve(baseDir, g.wsgi ?? g.app ?? '.'),
    // A path (./venv/bin/python) is the config file's; a bare name is looked up on PATH.
    ...(g.python ? { python: g.python.includes('/') ? resolve(baseDir, g.python) : g.python } : {}),
    pythonPath: (g.pythonPath ?? DEFAULTS['groups.NAME.pythonPath']).map((d) => resolve(baseDir, d)),
    threads,
    ...(g.provider ? { provider: resolve(baseDir, g.provider) } : {}),
    providerOptions: g.providerOptions ?? { ...DEFAULTS['groups.NAME.providerOptions'] },
    providerTimeoutMs: durationMs(g.providerTimeout, defaultMs('groups.NAME.providerTimeout')),
    providerConcurrency: g.providerConcurrency ?? DEFAULTS['groups.NAME.providerConcurrency'],
    providerQueueTimeoutMs: durationMs(g.providerQueueTimeout, defaultMs('groups.NAME.providerQueueTimeout')),
    processes: typeof g.processes === 'object' ? g.processes.min : (g.processes ?? DEFAULTS['groups.NAME.processes']),
    ...(typeof g.processes === 'object'
      ? { maxProcesses: g.processes.max, idleTimeMs: durationMs(g.idleTime, defaultMs('groups.NAME.idleTime')) }
      : {}),
    concurrency: g.wsgi !== undefined ? threads : (g.concurrency ?? DEFAULTS['groups.NAME.concurrency']),
    cwd,
    env: g.env ?? { ...DEFAULTS['groups.NAME.env'] },
    ...(g.node ? { node: g.node } : {}),
    execArgv: g.execArgv ?? [...DEFAULTS['groups.NAME.execArgv']],
    ...(g.user ? { user: g.user } : {}),
    ...(g.group ? { group: g.group } : {}),
    maxRequests: g.maxRequests ?? DEFAULTS['groups.NAME.maxRequests'],
    requestTimeoutMs: durationMs(g.requestTimeout, defaultMs('groups.NAME.requestTimeout')),
    gracefulTimeoutMs: durationMs(g.gracefulTimeout, defaultMs('groups.NAME.gracefulTimeout')),
    inactivityTimeoutMs: durationMs(g.inactivityTimeout, defaultMs('groups.NAME.inactivityTimeout')),
    queueTimeoutMs: durationMs(g.queueTimeout, defaultMs('groups.NAME.queueTimeout')),
    reloadOn: (g.reloadOn ?? DEFAULTS['groups.NAME.reloadOn']).map((f) => resolve(baseDir, f)),
    fileRoots: (g.fileRoots ?? DEFAULTS['groups.NAME.fileRoots']).map((f) => resolve(baseDir, f)),
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
  const scheme: Scheme[] =
    a.scheme === undefined ? [DEFAULTS['routes[].auth.scheme']] : Array.isArray(a.scheme) ? a.scheme : [a.scheme]
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
  let algorithms: DigestAlgorithmName[] = a.algorithms ?? [...DEFAULTS['routes[].auth.algorithms']]
  if (!(a.md5 ?? DEFAULTS['routes[].auth.md5'])) algorithms = algorithms.filter((x) => !x.startsWith('MD5'))
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
    qop: a.qop ?? [...DEFAULTS['routes[].auth.qop']],
    userhash: a.userhash ?? DEFAULTS['routes[].auth.userhash'],
    proxy: a.proxy ?? DEFAULTS['routes[].auth.proxy'],
    passAuthorization: a.passAuthorization ?? DEFAULTS['routes[].auth.passAuthorization'],
    cache: { enabled: a.cache === undefined ? DEFAULTS['routes[].auth.cache'] : a.cache !== false, ttlMs: cacheTtl },
    throttle: a.throttle ?? DEFAULTS['routes[].auth.throttle'],
  }
}

function requireOf(raw: RawRequire | undefined): RequireConfig {
  return (raw ?? DEFAULTS['routes[].auth.require']) === 'valid-user' ? {} : (raw as RequireConfig)
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
    throttledStatus: raw.throttledStatus ?? DEFAULTS['sidecar.throttledStatus'],
    refusedStatus: raw.refusedStatus ?? DEFAULTS['sidecar.refusedStatus'],
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
