/**
 * JSON Schema of the configuration file. The one source of truth for what keys exist:
 * parseConfig validates against it and docs/configuration.md is checked against it.
 * Durations are seconds (number) or strings with a unit: "250ms", "30s", "5m", "1h".
 * The defaults the descriptions state come from the one table of defaults (defaults.ts).
 */
import { defaultNote } from './defaults.js'

const duration = {
  description: 'seconds, or a string with a unit: "250ms", "30s", "5m", "1h"',
  'x-expected': 'seconds (a number) or a number with a unit: "250ms", "30s", "5m", "1h"',
  anyOf: [
    { type: 'number', minimum: 0 },
    { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)?(ms|s|m|h)$' },
  ],
} as const
const stringOrList = {
  anyOf: [
    { type: 'string', minLength: 1 },
    { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
  ],
} as const
const headerName = { type: 'string', pattern: '^[A-Za-z0-9-]+$' } as const

const requireRule = {
  description:
    '"valid-user", or { users: [...] } and/or { groups: [...] } (groups: authenticated AND in one of the groups)',
  'x-expected': '"valid-user", { users: [...] } or { groups: [...] } (or both lists)',
  anyOf: [
    { const: 'valid-user' },
    {
      type: 'object',
      additionalProperties: false,
      properties: {
        users: { type: 'array', items: { type: 'string', minLength: 1 } },
        groups: { type: 'array', items: { type: 'string', minLength: 1 } },
      },
    },
  ],
} as const

const auth = {
  type: 'object',
  additionalProperties: false,
  required: ['realm', 'provider'],
  properties: {
    scheme: {
      description:
        'basic, digest, form, or a list of them (challenges are sent in the order given; form: browsers get the login page, docs/form-login.md)',
      anyOf: [
        { enum: ['basic', 'digest', 'form'] },
        { type: 'array', minItems: 1, uniqueItems: true, items: { enum: ['basic', 'digest', 'form'] } },
      ],
    },
    realm: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[^"\\\\\\x00-\\x1f\\x7f]+$' },
    provider: { description: 'a provider name, or a chain of names asked in order', ...stringOrList },
    require: requireRule,
    limitExcept: {
      description:
        "Apache's <LimitExcept>: a request whose method is not in `methods` must also satisfy `require` (e.g. writes only for a group)",
      type: 'object',
      additionalProperties: false,
      required: ['methods', 'require'],
      properties: {
        methods: {
          description: 'the methods exempt from this require, upper case (GET also exempts HEAD)',
          type: 'array',
          minItems: 1,
          uniqueItems: true,
          // Methods are case-sensitive (RFC 9110 §9.1): a lower-case `get` would never match, silently.
          items: { type: 'string', pattern: '^[A-Z][A-Z0-9_-]*$' },
        },
        require: requireRule,
      },
    },
    algorithms: {
      description: `Digest algorithms offered, in order ${defaultNote('routes[].auth.algorithms')}`,
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: { enum: ['SHA-256', 'SHA-256-sess', 'SHA-512-256', 'SHA-512-256-sess', 'MD5', 'MD5-sess'] },
    },
    md5: {
      description: `offer MD5 for Digest (Safari and Python requests only do MD5) ${defaultNote('routes[].auth.md5')}`,
      type: 'boolean',
    },
    qop: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: ['auth', 'auth-int'] } },
    userhash: { type: 'boolean' },
    proxy: { description: 'proxy authentication: Proxy-Authorization, Proxy-Authenticate and 407', type: 'boolean' },
    passAuthorization: {
      description: `forward the Authorization header to the target ${defaultNote('routes[].auth.passAuthorization')}`,
      type: 'boolean',
    },
    cache: {
      description: 'credential cache for this route: false, or { ttl }',
      anyOf: [{ type: 'boolean' }, { type: 'object', additionalProperties: false, properties: { ttl: duration } }],
    },
    throttle: {
      description: `false exempts the route from brute-force throttling ${defaultNote('routes[].auth.throttle')}`,
      type: 'boolean',
    },
  },
} as const

const route = {
  type: 'object',
  additionalProperties: false,
  required: ['path'],
  properties: {
    path: { type: 'string', pattern: '^/' },
    upstream: { type: 'string', pattern: '^https?://' },
    group: { type: 'string', minLength: 1 },
    auth,
    bodyLimit: { description: 'largest request body in bytes (0: no limit)', type: 'integer', minimum: 0 },
    caseSensitive: {
      description: `the app serving this route matches paths case-sensitively: a path that names another route only once case-folded is not refused ${defaultNote('routes[].caseSensitive')}`,
      type: 'boolean',
    },
  },
} as const

/** Keys every provider entry takes, whatever its type (parseProvider in parse.ts). */
const providerCommon = {
  type: {
    description: 'htpasswd, htdigest, sqlite, django, or module',
    enum: ['htpasswd', 'htdigest', 'sqlite', 'django', 'module'],
  },
  threads: {
    description: `worker threads running this provider ${defaultNote('providers.NAME.threads')}`,
    type: 'integer',
    minimum: 1,
    maximum: 64,
  },
  threadsAtStart: {
    description: `threads started with the front, at most threads; the others start when logins wait ${defaultNote('providers.NAME.threadsAtStart')}`,
    type: 'integer',
    minimum: 1,
    maximum: 64,
  },
  timeout: { ...duration, description: `per-call timeout ${defaultNote('providers.NAME.timeout')}` },
  concurrency: {
    description: `calls one thread runs at once ${defaultNote('providers.NAME.concurrency')}: hashes are CPU work, first come first served`,
    type: 'integer',
    minimum: 1,
    maximum: 1024,
  },
  queueTimeout: {
    ...duration,
    description: 'how long a call may wait for a free thread before 503 (default: the timeout)',
  },
  nice: {
    description: `CPU priority of the provider threads, as nice(1) counts it: 0 = the front's own, 19 = lowest ${defaultNote('providers.NAME.nice')}`,
    type: 'integer',
    minimum: 0,
    maximum: 19,
  },
  shareWhenBusy: {
    description: `while the front's event loop is 80% busy or more, the share of its time each provider thread may work ${defaultNote('providers.NAME.shareWhenBusy')}; 1: never rest`,
    type: 'number',
    exclusiveMinimum: 0,
    maximum: 1,
  },
} as const

/** The options each built-in provider reads (providers/<type>/index.ts and htpasswd/options.ts), checked as they do. */
const providerOption = {
  file: { description: 'htpasswd / htdigest: the file', type: 'string', minLength: 1 },
  database: { description: 'sqlite / django: the SQLite database', type: 'string', minLength: 1 },
  groupFile: { description: 'htpasswd / htdigest: an Apache AuthGroupFile', type: 'string', minLength: 1 },
  plaintext: {
    description: 'htpasswd: accept lines of no known hash format as plaintext passwords (default false)',
    type: 'boolean',
  },
  watchIntervalMs: {
    description:
      'htpasswd / htdigest: how often the files are checked for changes, in ms (default 1000); sqlite / django: how often the database is checked for commits by other connections, in ms (default 500)',
    type: 'integer',
    minimum: 10,
  },
  busyTimeout: {
    description: 'sqlite / django: ms a call waits on a locked database before 503 (default 5000)',
    type: 'number',
    minimum: 0,
  },
} as const

export const builtinProviderOptions: Record<
  'htpasswd' | 'htdigest' | 'sqlite' | 'django',
  ReadonlyArray<keyof typeof providerOption>
> = {
  htpasswd: ['file', 'groupFile', 'plaintext', 'watchIntervalMs'],
  htdigest: ['file', 'groupFile', 'watchIntervalMs'],
  sqlite: ['database', 'busyTimeout', 'watchIntervalMs'],
  django: ['database', 'busyTimeout', 'watchIntervalMs'],
}

/**
 * A built-in type takes the common keys and its own options, nothing else: a typo such as
 * `plaintxt` would otherwise pass silently. `type: module` stays open (its keys are the module's).
 */
const builtinProviderRules = Object.entries(builtinProviderOptions).map(([type, keys]) => ({
  if: { required: ['type'], properties: { type: { const: type } } },
  then: {
    additionalProperties: false,
    properties: { ...Object.fromEntries(keys.map((k) => [k, providerOption[k]])), ...providerCommon },
    // Read by formatSchemaErrors to name the type and the keys it takes.
    'x-builtin-type': type,
  },
}))

const provider = {
  type: 'object',
  required: ['type'],
  properties: {
    type: providerCommon.type,
    module: {
      description: 'with type: module, the provider module (path relative to the config file)',
      type: 'string',
      minLength: 1,
    },
    file: { type: 'string', minLength: 1 },
    database: { type: 'string', minLength: 1 },
    // Documented here; their types are checked for the built-in types only (a module reads its keys its own way).
    groupFile: { description: providerOption.groupFile.description },
    plaintext: { description: providerOption.plaintext.description },
    watchIntervalMs: { description: providerOption.watchIntervalMs.description },
    busyTimeout: { description: providerOption.busyTimeout.description },
    threads: providerCommon.threads,
    threadsAtStart: providerCommon.threadsAtStart,
    timeout: providerCommon.timeout,
    concurrency: providerCommon.concurrency,
    queueTimeout: providerCommon.queueTimeout,
    nice: providerCommon.nice,
    shareWhenBusy: providerCommon.shareWhenBusy,
  },
  allOf: builtinProviderRules,
} as const

const group = {
  type: 'object',
  additionalProperties: false,
  properties: {
    app: {
      description: 'the Node app module (default export (req, res) => void); give app or wsgi',
      type: 'string',
      minLength: 1,
    },
    wsgi: {
      description:
        "a Python file defining the WSGI callable `application` (mod_wsgi's WSGIScriptAlias); give app or wsgi",
      type: 'string',
      minLength: 1,
    },
    python: {
      description: `with wsgi: the Python interpreter, e.g. a virtualenv's bin/python ${defaultNote('groups.NAME.python')}`,
      type: 'string',
      minLength: 1,
    },
    pythonPath: {
      description: "with wsgi: directories put first on sys.path (mod_wsgi's python-path)",
      type: 'array',
      items: { type: 'string', minLength: 1 },
    },
    threads: {
      description: `with wsgi: request threads per process, mod_wsgi's threads ${defaultNote('groups.NAME.threads')}`,
      type: 'integer',
      minimum: 1,
      maximum: 1024,
    },
    provider: { type: 'string', minLength: 1 },
    providerOptions: { description: "options handed to the provider module's factory", type: 'object' },
    providerTimeout: {
      ...duration,
      description: `per provider call ${defaultNote('groups.NAME.providerTimeout')}; past it the request is answered 503`,
    },
    providerConcurrency: {
      description: `provider calls in flight to the group at once ${defaultNote('groups.NAME.providerConcurrency')}`,
      type: 'integer',
      minimum: 1,
    },
    providerQueueTimeout: {
      ...duration,
      description: `how long a call over providerConcurrency may wait before 503 ${defaultNote('groups.NAME.providerQueueTimeout')}`,
    },
    processes: {
      description:
        'a fixed pool of N processes, or { min, max }: start min, add processes while all are busy, retire idle ones above min',
      anyOf: [
        { type: 'integer', minimum: 1, maximum: 256 },
        {
          type: 'object',
          additionalProperties: false,
          required: ['min', 'max'],
          properties: {
            min: { type: 'integer', minimum: 1, maximum: 256 },
            max: { type: 'integer', minimum: 1, maximum: 256 },
          },
        },
      ],
    },
    idleTime: {
      ...duration,
      description: `with processes: { min, max }, a process above min idle this long is retired ${defaultNote('groups.NAME.idleTime')}`,
    },
    concurrency: {
      description: `concurrent requests per process ${defaultNote('groups.NAME.concurrency')}`,
      type: 'integer',
      minimum: 1,
    },
    cwd: { type: 'string', minLength: 1 },
    env: { type: 'object', additionalProperties: { type: 'string' } },
    node: { type: 'string', minLength: 1 },
    execArgv: { type: 'array', items: { type: 'string' } },
    user: { type: 'string', minLength: 1 },
    group: { type: 'string', minLength: 1 },
    maxRequests: { description: 'recycle a process after this many requests (0: never)', type: 'integer', minimum: 0 },
    requestTimeout: duration,
    gracefulTimeout: duration,
    inactivityTimeout: duration,
    queueTimeout: duration,
    reloadOn: { type: 'array', items: { type: 'string', minLength: 1 } },
    fileRoots: { type: 'array', items: { type: 'string', minLength: 1 } },
  },
} as const

const throttleRule = {
  description: 'false: off; or a limit on failed logins',
  anyOf: [
    { const: false },
    {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxFailures: { description: 'failed logins within window that start a lockout', type: 'integer', minimum: 1 },
        window: { ...duration, description: 'the sliding window failures are counted in' },
        lockout: {
          ...duration,
          description: 'first lockout; each repeated lockout doubles it, up to throttle.maxLockout',
        },
      },
    },
  ],
} as const

/** Brute-force throttling of failed logins (src/auth/throttle.ts, docs/security.md). */
const throttle = {
  type: 'object',
  additionalProperties: false,
  properties: {
    enabled: { type: 'boolean' },
    window: duration,
    lockout: duration,
    maxLockout: duration,
    delay: {
      ...duration,
      description: 'delay of the 401 after the 4th failure in the window, doubling per failure (0: none)',
    },
    maxDelay: duration,
    maxEntries: {
      description: 'addresses and users tracked at most (least recently seen dropped first)',
      type: 'integer',
      minimum: 1,
    },
    perAddress: throttleRule,
    perUser: throttleRule,
  },
} as const

/** Limits of the front's HTTP server (src/limits.ts). */
const limits = {
  type: 'object',
  additionalProperties: false,
  properties: {
    maxHeaderSize: {
      description: 'largest request head in bytes; larger gets 431',
      type: 'integer',
      minimum: 1024,
      maximum: 1048576,
    },
    // At most 1000: Node apps keep their first 2000 fields (maxHeadersCount), so everything the front passes on arrives.
    maxHeaderFields: {
      description: 'most header fields in a request head (Apache LimitRequestFields); more get 431',
      type: 'integer',
      minimum: 1,
      maximum: 1000,
    },
    headersTimeout: { ...duration, description: 'time to receive a request head (slowloris); past it 408' },
    requestTimeout: { ...duration, description: 'time to receive a whole request; past it 408 (0: none)' },
    keepAliveTimeout: { ...duration, description: 'idle time of a kept-alive connection' },
    maxConnections: {
      description: 'open connections (0: no limit); the requests of further ones get 503',
      type: 'integer',
      minimum: 0,
    },
    maxConcurrentStreams: {
      description: 'requests one HTTP/2 connection may have in flight at once',
      type: 'integer',
      minimum: 1,
      maximum: 1000,
    },
    bodyLimit: {
      description: 'largest request body in bytes for routes without their own bodyLimit (0: no limit)',
      type: 'integer',
      minimum: 0,
    },
  },
} as const

const headerNames = { anyOf: [headerName, { type: 'array', minItems: 1, items: headerName }] } as const

const sidecar = {
  type: 'object',
  additionalProperties: false,
  required: ['path'],
  properties: {
    path: {
      description:
        'the forward-auth endpoint (nginx auth_request, Traefik ForwardAuth, Caddy forward_auth, Envoy ext_authz path_prefix)',
      type: 'string',
      pattern: '^/.',
    },
    headers: {
      type: 'object',
      additionalProperties: false,
      properties: {
        user: { description: 'response header(s) carrying the user on 200', ...headerNames },
        groups: { description: 'response header(s) carrying the groups (comma-separated) on 200', ...headerNames },
      },
    },
    throttledStatus: {
      description: `status for a client or user locked out by login throttling ${defaultNote('sidecar.throttledStatus')}, or 403 for nginx auth_request, which turns anything but 401/403 into 500`,
      enum: [429, 403],
    },
    refusedStatus: {
      description: `status for a sub-request refused as malformed (an original URI the path rule refuses, ambiguous Authorization headers, malformed credentials) ${defaultNote('sidecar.refusedStatus')}, or 403 for nginx auth_request, which turns anything but 401/403 into 500`,
      enum: [400, 403],
    },
  },
} as const

/** The admin listener: metrics, health, status page, commands (src/admin, docs/operations.md). */
const admin = {
  type: 'object',
  additionalProperties: false,
  properties: {
    host: {
      description: 'loopback address of the admin listener (another address needs token or tokenFile)',
      type: 'string',
      minLength: 1,
    },
    port: { type: 'integer', minimum: 0, maximum: 65535 },
    socket: {
      description: 'a unix socket instead of host/port (made 0600, in a directory of mode 0700)',
      type: 'string',
      minLength: 1,
    },
    token: {
      description: 'bearer token required on every admin request but /healthz and /readyz',
      type: 'string',
      minLength: 16,
    },
    tokenFile: { type: 'string', minLength: 1 },
  },
} as const

/** Form login and its sessions (src/session, docs/form-login.md). */
const session = {
  type: 'object',
  additionalProperties: false,
  properties: {
    loginPath: {
      description: `where the login page is served ${defaultNote('session.loginPath')}`,
      type: 'string',
      pattern: '^(/[A-Za-z0-9._~-]+)+$',
    },
    logoutPath: {
      description: `where logout is served ${defaultNote('session.logoutPath')}`,
      type: 'string',
      pattern: '^(/[A-Za-z0-9._~-]+)+$',
    },
    cookie: {
      type: 'object',
      additionalProperties: false,
      properties: {
        name: {
          description: `the session cookie's name ${defaultNote('session.cookie.name')}; the login form's pre-session cookie is NAME_login`,
          type: 'string',
          pattern: '^[A-Za-z0-9_-]{1,64}$',
        },
        domain: {
          description:
            'Domain attribute, for a sidecar covering several hosts (default: none, the cookie is host-only)',
          type: 'string',
          pattern: '^[A-Za-z0-9.-]{1,253}$',
        },
      },
    },
    idleTimeout: { ...duration, description: `a session unused this long ends ${defaultNote('session.idleTimeout')}` },
    lifetime: {
      ...duration,
      description: `a session ends this long after its login, used or not ${defaultNote('session.lifetime')}`,
    },
    template: {
      description: 'an HTML file replacing the login page (placeholders in docs/form-login.md)',
      type: 'string',
      minLength: 1,
    },
  },
} as const

/** The state shared between instances (src/state, docs/scaling.md). */
const state = {
  type: 'object',
  additionalProperties: false,
  required: ['redis'],
  properties: {
    redis: {
      description: 'the Redis holding the shared state: redis://host:port/db or unix:///path/redis.sock',
      type: 'string',
      minLength: 1,
    },
    prefix: {
      description: `prefix of every key and channel, one per deployment ${defaultNote('state.prefix')}`,
      type: 'string',
      minLength: 1,
      maxLength: 100,
    },
    timeout: {
      ...duration,
      description: `longest wait for one Redis command before the fallback applies ${defaultNote('state.timeout')}`,
    },
  },
} as const

export const configSchema = {
  $id: 'https://gatehouse.invalid/config.schema.json',
  type: 'object',
  additionalProperties: false,
  required: ['routes'],
  properties: {
    listen: {
      type: 'object',
      additionalProperties: false,
      properties: {
        host: { type: 'string', minLength: 1 },
        port: { type: 'integer', minimum: 0, maximum: 65535 },
        http2: { description: 'serve HTTP/2 beside HTTP/1.1 on the TLS listener (ALPN); needs tls', type: 'boolean' },
        tls: {
          type: 'object',
          additionalProperties: false,
          required: ['cert', 'key'],
          properties: { cert: { type: 'string' }, key: { type: 'string' } },
        },
      },
    },
    providers: { type: 'object', additionalProperties: provider },
    groups: { type: 'object', additionalProperties: group },
    routes: { type: 'array', items: route },
    identityHeaders: {
      type: 'object',
      additionalProperties: false,
      properties: {
        user: headerName,
        groups: headerName,
        strip: {
          description:
            'further request headers never passed from clients to targets, on top of the built-in list (docs/security.md)',
          type: 'array',
          items: headerName,
        },
      },
    },
    sidecar,
    session,
    trustedProxies: {
      description: 'addresses or CIDR ranges whose X-Forwarded-* headers are trusted',
      type: 'array',
      items: { type: 'string' },
    },
    digest: {
      type: 'object',
      additionalProperties: false,
      properties: {
        secret: { description: 'HMAC secret for nonces; share it between instances', type: 'string', minLength: 16 },
        secretFile: { type: 'string', minLength: 1 },
        nonceTtl: duration,
      },
    },
    cache: {
      type: 'object',
      additionalProperties: false,
      properties: { ttl: duration, maxEntries: { type: 'integer', minimum: 0 } },
    },
    throttle,
    limits,
    admin,
    state,
    workers: {
      description:
        'front processes sharing the listening socket: a number, or auto (one per CPU); 1 runs the front in the gatehouse process itself',
      anyOf: [{ type: 'integer', minimum: 1, maximum: 256 }, { const: 'auto' }],
    },
    log: {
      type: 'object',
      additionalProperties: false,
      properties: { level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] } },
    },
  },
} as const
