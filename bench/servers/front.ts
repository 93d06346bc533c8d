/**
 * The gatehouse front under test, run as its own process through runGateway (the code path of
 * `gatehouse start`). argv[2] is a JSON FrontSpec. Logs (access lines at info) go to stdout,
 * which the bench points at a file; the ready line goes to stderr as `BENCH-READY {json}`.
 * gatehouse itself is loaded from dist/ (what `npm run build` compiles and the package ships):
 * through a TypeScript loader every closure gets a keep-names wrapper call, a cost a deployed
 * gateway does not pay. Set `spec.source` to run from src/ instead.
 */
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import bcrypt from 'bcryptjs'

export interface FrontSpec {
  upstream: string
  processes: number
  logLevel: string
  /** Extra node arguments for every daemon process (e.g. --cpu-prof). */
  daemonExecArgv: string[]
  /** Request threads per Python worker (absent: 15, as the Apache peer's WSGIDaemonProcess). */
  pythonThreads?: number
  /** The Python group's workers write cProfile statistics here when they exit (--profile). */
  pythonProfileDir?: string
  /** Run gatehouse from src/ through tsx instead of the compiled dist/. */
  source?: boolean
  /** A private directory for the slow-login htpasswd file (the /slow route); without it, no /slow. */
  workDir?: string
  /** providers.slow.shareWhenBusy (absent: the default). */
  shareWhenBusy?: number
  /** groups.slowaccounts.providerConcurrency (absent: the default). */
  slowGroupConcurrency?: number
  /** A whole configuration instead of the benchmark's (bench/load.ts), relative to `baseDir`. */
  config?: unknown
  baseDir?: string
  /** `workers:` of the front (absent: 1, the front in the gatehouse process). */
  workers?: number
  /** `state.redis` of the front (absent: the state is the gatehouse's own). */
  redis?: string
}

export const REALM = 'Bench'
export const DIGEST_SECRET = 'bench-digest-secret-0123456789'
/** The /slow route's users: slow1 … slowN, all with this password, bcrypt cost 12. */
export const SLOW_USERS = 100
export const SLOW_PASSWORD = 'slow-login-pw'
const SLOW_COST = 12

/** An htpasswd file of SLOW_USERS users sharing one bcrypt cost-12 hash (hashing it 100 times would take a minute). */
function writeSlowHtpasswd(dir: string): string {
  const file = join(dir, 'slow.htpasswd')
  const hash = bcrypt.hashSync(SLOW_PASSWORD, SLOW_COST)
  writeFileSync(file, Array.from({ length: SLOW_USERS }, (_, i) => `slow${i + 1}:${hash}\n`).join(''), { mode: 0o600 })
  return file
}

/** The Python group runs the Apache peer's own hello world and auth script, for like-for-like rows. */
export const PYTHON = '/usr/bin/python3'

export function benchConfig(spec: FrontSpec): unknown {
  const basic = { scheme: 'basic', realm: REALM, provider: 'accounts' }
  // As the Apache peer runs them: hello.wsgi in a daemon group of 2 processes × 15 threads, its
  // auth.wsgi (realm "peer") as the group's provider.
  const py = existsSync(PYTHON)
  const pyBasic = { scheme: 'basic', realm: 'peer', provider: 'py' }
  // Slow logins: htpasswd (bcrypt cost 12) in the front's provider threads (default 2), cache
  // off so every request hashes; a long call timeout so the 100 queued logins wait, not fail.
  const slow =
    spec.workDir === undefined
      ? undefined
      : {
          providers: {
            slow: {
              type: 'htpasswd',
              file: writeSlowHtpasswd(spec.workDir),
              timeout: '120s',
              ...(spec.shareWhenBusy !== undefined ? { shareWhenBusy: spec.shareWhenBusy } : {}),
            },
          },
          route: {
            path: '/slow',
            group: 'hello',
            auth: { scheme: 'basic', realm: REALM, provider: 'slow', cache: false },
          },
        }
  return {
    listen: { host: '127.0.0.1', port: 0 },
    ...(slow ? { providers: slow.providers } : {}),
    groups: {
      hello: { app: 'apps/hello.mjs', processes: spec.processes, execArgv: spec.daemonExecArgv },
      accounts: { app: 'apps/hello.mjs', provider: 'apps/provider.mjs', processes: 1, execArgv: spec.daemonExecArgv },
      // Slow logins answered by a daemon group's provider (scrypt, like the demo's accounts app).
      slowaccounts: {
        app: 'apps/hello.mjs',
        provider: 'apps/slow-provider.mjs',
        providerOptions: { password: SLOW_PASSWORD },
        processes: 1,
        execArgv: spec.daemonExecArgv,
        providerTimeout: '120s',
        providerQueueTimeout: '120s',
        ...(spec.slowGroupConcurrency !== undefined ? { providerConcurrency: spec.slowGroupConcurrency } : {}),
      },
      ...(py
        ? {
            py: {
              wsgi: 'peers/apache-modwsgi/hello.wsgi',
              provider: 'peers/apache-modwsgi/auth.wsgi',
              python: PYTHON,
              processes: 2,
              threads: spec.pythonThreads ?? 15,
              ...(spec.pythonProfileDir !== undefined
                ? { env: { GATEHOUSE_PYTHON_PROFILE_DIR: spec.pythonProfileDir } }
                : {}),
            },
          }
        : {}),
    },
    routes: [
      { path: '/up', upstream: spec.upstream, auth: basic },
      { path: '/group', group: 'hello' },
      { path: '/group-basic', group: 'hello', auth: basic },
      { path: '/group-basic-miss', group: 'hello', auth: { ...basic, cache: false } },
      // Same realm and provider as /group-basic: a form session against a cached Basic check.
      { path: '/group-form', group: 'hello', auth: { ...basic, scheme: 'form' } },
      ...(slow ? [slow.route] : []),
      {
        path: '/slow-group',
        group: 'hello',
        auth: { scheme: 'basic', realm: REALM, provider: 'slowaccounts', cache: false },
      },
      {
        path: '/group-digest',
        group: 'hello',
        auth: { scheme: 'digest', realm: REALM, provider: 'accounts', algorithms: ['SHA-256'] },
      },
      ...(py
        ? [
            { path: '/py', group: 'py' },
            { path: '/py-basic', group: 'py', auth: pyBasic },
            { path: '/py-basic-miss', group: 'py', auth: { ...pyBasic, cache: false } },
          ]
        : []),
    ],
    digest: { secret: DIGEST_SECRET },
    log: { level: spec.logLevel },
    ...(spec.workers !== undefined ? { workers: spec.workers } : {}),
    // A store in another process answers the throttle asynchronously: every connection is one
    // client address here, so its in-flight budget must exceed the connections.
    ...(spec.workers !== undefined || spec.redis !== undefined
      ? { throttle: { perAddress: { maxFailures: 256 } } }
      : {}),
    ...(spec.redis !== undefined ? { state: { redis: spec.redis, prefix: 'gatehouse:bench:' } } : {}),
  }
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '{}') as FrontSpec
  const baseDir = fileURLToPath(new URL('..', import.meta.url))
  const root = spec.source ? '../../src/' : '../../dist/src/'
  const { parseConfig } = (await import(
    new URL(`${root}config/parse.js`, import.meta.url).href
  )) as typeof import('../../src/config/parse.js')
  const { runGateway } = (await import(
    new URL(`${root}gateway.js`, import.meta.url).href
  )) as typeof import('../../src/gateway.js')
  const config = parseConfig(spec.config ?? benchConfig(spec), { baseDir: spec.baseDir ?? baseDir })
  const gw = await runGateway(config)
  const daemons = (gw.supervisor?.status() ?? []).flatMap((g) =>
    g.processes.map((p) => ({ group: g.name, pid: p.pid })),
  )
  // With workers, the front is this process and its workers: their CPU is the front's.
  const fronts = [process.pid, ...gw.workers().map((w) => w.pid)]
  process.stderr.write(`BENCH-READY ${JSON.stringify({ url: gw.address, daemons, fronts })}\n`)
  process.exit(await gw.untilStopped())
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main()
