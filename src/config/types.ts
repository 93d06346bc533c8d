/**
 * The validated configuration, as the rest of gatehouse sees it: every path absolute, every
 * default filled in. `parseConfig` (parse.ts) is the only producer.
 */
export type Scheme = 'basic' | 'digest' | 'form'

/** The Digest algorithms a route may offer (RFC 7616 §6.1 and the -sess variants). */
export type DigestAlgorithmName = 'MD5' | 'MD5-sess' | 'SHA-256' | 'SHA-256-sess' | 'SHA-512-256' | 'SHA-512-256-sess'

export interface ListenConfig {
  host: string
  port: number
  /** HTTP/2 beside HTTP/1.1 on the TLS listener (ALPN h2, http/1.1); only with tls. */
  http2: boolean
  tls?: { cert: string; key: string }
}

export interface RequireConfig {
  /** valid-user when neither users nor groups is given. */
  users?: string[]
  groups?: string[]
}

export interface AuthConfig {
  scheme: Scheme[]
  realm: string
  /** Provider names in order: built-ins from `providers:` or daemon groups that have a provider. */
  provider: string[]
  require: RequireConfig
  /**
   * Apache's `<LimitExcept GET>`: a request whose method is not listed must also satisfy this
   * `require` (both apply). `methods` is upper case; GET brings HEAD with it, as in Apache.
   */
  limitExcept?: { methods: string[]; require: RequireConfig }
  /** Digest algorithms offered, strongest first. MD5 last unless switched off. */
  algorithms: DigestAlgorithmName[]
  qop: Array<'auth' | 'auth-int'>
  userhash: boolean
  /** Proxy mode: Proxy-Authorization / Proxy-Authenticate / 407. */
  proxy: boolean
  /** Forward the Authorization header to the target (mod_wsgi WSGIPassAuthorization). */
  passAuthorization: boolean
  cache: { enabled: boolean; ttlMs: number }
  /** Brute-force throttling applies to this route (the top-level `throttle` settings). */
  throttle: boolean
}

export interface RouteConfig {
  path: string
  upstream?: string
  group?: string
  auth?: AuthConfig
  /** Max request body in bytes (0 = no limit). */
  bodyLimit?: number
  /** The app serving this route matches paths case-sensitively (proxy/path-rule.ts skips the case-folded readings). */
  caseSensitive?: boolean
}

export interface GroupConfig {
  name: string
  /** What runs in the processes: a Node app (`app:`) or a Python WSGI app (`wsgi:`). */
  kind: 'node' | 'python'
  /** Absolute path of the app module (default export `(req, res) => void`), or of the WSGI file defining `application`. */
  app: string
  /** kind python: the interpreter (default python3, looked up on PATH). */
  python?: string
  /** kind python: absolute directories put first on sys.path. */
  pythonPath: string[]
  /** kind python: request threads per process (also the process's concurrency). */
  threads: number
  /** Absolute path of the provider module (issue: group providers), optional. */
  provider?: string
  /** Handed to the provider module's factory as its options. */
  providerOptions: Record<string, unknown>
  /** Per provider call, from the front's side (> 0). */
  providerTimeoutMs: number
  /** Provider calls in flight to the group at once; more wait up to providerQueueTimeoutMs, then 503. */
  providerConcurrency: number
  providerQueueTimeoutMs: number
  /** Processes started with the group: `processes: N`, or processes.min. */
  processes: number
  /** processes.max: more are started when all are busy (src/daemon/autoscale.ts). Absent: equal to processes. */
  maxProcesses?: number
  /** Above min, a process without work for this long is retired. Absent: 30 s. */
  idleTimeMs?: number
  /** Concurrent requests per process. */
  concurrency: number
  cwd: string
  env: Record<string, string>
  node?: string
  execArgv: string[]
  user?: string
  group?: string
  maxRequests: number
  requestTimeoutMs: number
  gracefulTimeoutMs: number
  inactivityTimeoutMs: number
  queueTimeoutMs: number
  /** Extra files whose mtime change reloads the group. */
  reloadOn: string[]
  /** Roots the app may answer with files from (file responses). */
  fileRoots: string[]
}

export interface ProviderConfig {
  name: string
  type: string
  /** Module specifier for type 'module', else the built-in's name. */
  module: string
  options: Record<string, unknown>
  threads: number
  /** Threads started with the front; the others start when calls wait. */
  threadsAtStart: number
  callTimeoutMs: number
  /** Calls one thread runs at once. */
  concurrency: number
  /** How long a call may wait for a free thread. */
  queueTimeoutMs: number
  /** CPU priority of the provider's threads (nice 0–19). */
  nice: number
  /** The share of its time a thread may work while the front's event loop is busy (0 < n ≤ 1). */
  shareWhenBusy: number
}

export interface IdentityHeadersConfig {
  user: string
  groups: string
  /** Further request headers removed from every client request (on top of STRIPPED_REQUEST_HEADERS). */
  strip: string[]
}

/** The forward-auth endpoint (docs/sidecar.md). */
export interface SidecarConfig {
  /** Without a trailing slash; `${path}/<original path>` is Envoy's path-prefix mode. */
  path: string
  /** Response headers set to the user on 200 (each one). */
  userHeaders: string[]
  /** Response headers set to the comma-separated groups on 200. */
  groupsHeaders: string[]
  /** The answer to a throttled login: 429, or 403 for proxies that pass only 401/403 (nginx). */
  throttledStatus: 429 | 403
  /** The answer to a malformed sub-request: 400, or 403 for proxies that pass only 401/403 (nginx). */
  refusedStatus: 400 | 403
}

/** Form login and sessions (src/session, docs/form-login.md). */
export interface SessionConfig {
  loginPath: string
  logoutPath: string
  cookieName: string
  /** Absent: host-only cookie. */
  cookieDomain?: string
  idleTimeoutMs: number
  lifetimeMs: number
  /** Absolute path of an HTML file replacing the built-in login page. */
  template?: string
}

/** One limit on failed logins, per client address or per user (src/auth/throttle.ts). */
export interface ThrottleRuleConfig {
  maxFailures: number
  windowMs: number
  lockoutMs: number
}

export interface ThrottleConfig {
  enabled: boolean
  /** Absent: no per-address limit. */
  perAddress?: ThrottleRuleConfig
  /** Absent: no per-user limit. Counts failures from addresses that never succeeded for the user. */
  perUser?: ThrottleRuleConfig
  maxLockoutMs: number
  /** Base of the growing delay of failed answers (0: none). */
  delayMs: number
  maxDelayMs: number
  maxEntries: number
}

/** The front HTTP server's limits (src/limits.ts); 0 means none where noted. */
export interface LimitsConfig {
  maxHeaderSize: number
  /** Most header fields in a request head (Apache's LimitRequestFields); more get 431. */
  maxHeaderFields: number
  headersTimeoutMs: number
  /** 0: none. */
  requestTimeoutMs: number
  keepAliveTimeoutMs: number
  /** 0: none. */
  maxConnections: number
  /** Streams (requests) one HTTP/2 connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams: number
  /** Default for routes without their own bodyLimit; 0: none. */
  bodyLimit: number
}

/** The admin listener (src/admin): TCP on a loopback address, or a unix socket. */
export type AdminConfig =
  | { kind: 'tcp'; host: string; port: number; token?: string; tokenFile?: string }
  | { kind: 'socket'; socket: string; token?: string; tokenFile?: string }

export interface Config {
  baseDir: string
  listen: ListenConfig
  providers: Record<string, ProviderConfig>
  groups: Record<string, GroupConfig>
  routes: RouteConfig[]
  identityHeaders: IdentityHeadersConfig
  /** Addresses whose X-Forwarded-* headers are trusted. */
  trustedProxies: string[]
  /** Present when the configuration has `sidecar:`. */
  sidecar?: SidecarConfig
  digest: { secret: string; secretFile?: string; nonceTtlMs: number }
  /** Always filled in; used by routes whose scheme lists form. */
  session: SessionConfig
  cache: { maxEntries: number; ttlMs: number }
  throttle: ThrottleConfig
  limits: LimitsConfig
  log: { level: string }
  /** Present when the configuration has `admin:`. */
  admin?: AdminConfig
  /** Present when the configuration has `state:`: the state shared with other instances lives there. */
  state?: StateConfig
  /** Front processes (`workers:`, `auto` resolved to the CPU count); 1: the front runs in the gatehouse process. */
  workers: number
}

/** Where the state shared between gatehouse instances lives (src/state, docs/scaling.md). */
export interface StateConfig {
  /** redis://[user:password@]host[:port][/db], rediss://…, or unix:///path/redis.sock */
  redis: string
  /** Prefix of every key and channel: one per deployment sharing the Redis. */
  prefix: string
  /** Longest wait for one command (and for connecting) before the fallback applies. */
  timeoutMs: number
}
