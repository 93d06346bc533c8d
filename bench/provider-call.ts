/**
 * What a group provider call costs. Two measurements, printed:
 *  1. Round trip of a trivial checkPassword through GroupProvider → unix socket → daemon
 *     process → back: CALLERS concurrent callers, CALLS calls in all (after a warm-up), with
 *     the median, p99 and max latency and the calls/s it sustained.
 *  2. Through the front with the credential cache off (`cache: false`): requests/s of a Basic
 *     route whose provider is the group (one provider call per request), next to the same
 *     route with the cache on and with no auth at all (autocannon, 32 connections).
 *   node --import tsx bench/provider-call.ts [calls=20000] [callers=32] [seconds=5]
 *
 * `npm run bench` runs it as a child process with `--json [--dist]`: only the round trip, one
 * daemon process running bench/apps/provider.mjs, measured with one caller (the round trip of
 * a lone call, what the round-trip target is about) and with CALLERS callers (latency under load,
 * queueing included); one JSON line on stdout. `--dist` loads gatehouse from dist/.
 * Both modes also measure a Python group (one process, 15 threads) whose provider is the Apache
 * peer's trivial mod_wsgi auth script (bench/peers/apache-modwsgi/auth.wsgi), when
 * /usr/bin/python3 exists: the same round trip through the Python worker.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { destination, pino } from 'pino'
import type { AuthContext } from '../src/providers/contract.js'
import type { GroupProvider } from '../src/providers/group-provider.js'
import type { Supervisor } from '../src/daemon/supervisor.js'
import { gatehouseModule } from './lib/build.js'
import type { ProviderCall, RoundTrips } from './lib/targets.js'

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: { json: { type: 'boolean', default: false }, dist: { type: 'boolean', default: false } },
})
const CALLS = Number(positionals[0] ?? 20_000)
const CALLERS = Number(positionals[1] ?? 32)
const SECONDS = Number(positionals[2] ?? 5)
const HERE = dirname(fileURLToPath(import.meta.url))
const FIXTURES = join(HERE, '..', 'test', 'fixtures', 'group-providers')
/** The --json run uses the bench's plain-JavaScript app and provider (no TypeScript loader in the daemon). */
const TARGET = flags.json
  ? {
      dir: join(HERE, 'apps'),
      app: join(HERE, 'apps', 'hello.mjs'),
      provider: join(HERE, 'apps', 'provider.mjs'),
      user: 'bench',
      password: 'bench',
    }
  : {
      dir: FIXTURES,
      app: join(FIXTURES, 'hello.ts'),
      provider: join(FIXTURES, 'trivial.ts'),
      user: 'bench',
      password: 'bench-pw',
    }
const AUTOCANNON = join(dirname(createRequire(import.meta.url).resolve('autocannon/package.json')), 'autocannon.js')
/** The Python group: the Apache peer's hello world and auth script (alice / "correct horse"). */
const PEER = join(HERE, 'peers', 'apache-modwsgi')
const PYTHON = '/usr/bin/python3'
const PY_TARGET = {
  dir: PEER,
  wsgi: join(PEER, 'hello.wsgi'),
  provider: join(PEER, 'auth.wsgi'),
  user: 'alice',
  password: 'correct horse',
}
type Kind = 'node' | 'python'
const CTX: AuthContext = {
  method: 'GET',
  path: '/p',
  host: '127.0.0.1',
  remoteAddress: '127.0.0.1',
  route: '/p',
  realm: 'Bench',
  headers: { 'user-agent': 'bench', accept: '*/*' },
}

const load = async <T>(name: string): Promise<T> => (await import(gatehouseModule(name, !flags.dist))) as T
const { parseConfig } = await load<typeof import('../src/config/parse.js')>('config/parse.js')
const { Supervisor: SupervisorClass } = await load<typeof import('../src/daemon/supervisor.js')>('daemon/supervisor.js')
const { runGateway } = await load<typeof import('../src/gateway.js')>('gateway.js')
const { GroupProvider: GroupProviderClass } =
  await load<typeof import('../src/providers/group-provider.js')>('providers/group-provider.js')

/** `callers` loops share `total` calls; each call's round trip in ms. */
async function roundTrips(
  provider: GroupProvider,
  total: number,
  callers: number,
  kind: Kind,
): Promise<{ ms: number[]; wallMs: number }> {
  const ms: number[] = []
  let left = total
  const check = provider.checkPassword!
  const { user, password } = kind === 'python' ? PY_TARGET : TARGET
  const caller = async (): Promise<void> => {
    while (left > 0) {
      left--
      const t0 = performance.now()
      const ok = await check(CTX, user, password)
      ms.push(performance.now() - t0)
      if (ok !== true) throw new Error(`checkPassword answered ${String(ok)}`)
    }
  }
  const start = performance.now()
  await Promise.all(Array.from({ length: callers }, caller))
  return { ms, wallMs: performance.now() - start }
}

const quantile = (sorted: number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN

async function measure(
  provider: GroupProvider,
  calls: number,
  callers: number,
  kind: Kind = 'node',
): Promise<RoundTrips> {
  await roundTrips(provider, Math.min(2_000, calls), callers, kind) // warm-up: JIT, socket buffers
  const { ms, wallMs } = await roundTrips(provider, calls, callers, kind)
  ms.sort((a, b) => a - b)
  return {
    callers,
    calls,
    p50Us: quantile(ms, 0.5) * 1000,
    p99Us: quantile(ms, 0.99) * 1000,
    maxUs: (ms[ms.length - 1] ?? NaN) * 1000,
    callsPerSec: calls / (wallMs / 1000),
  }
}

/** A supervisor with one group running the provider, and a started GroupProvider on it. */
async function withProvider<T>(
  processes: number,
  fn: (p: GroupProvider) => Promise<T>,
  kind: Kind = 'node',
): Promise<T> {
  const group =
    kind === 'python'
      ? {
          wsgi: PY_TARGET.wsgi,
          python: PYTHON,
          threads: 15,
          provider: PY_TARGET.provider,
          cwd: PY_TARGET.dir,
          processes,
          providerConcurrency: 64,
        }
      : {
          app: TARGET.app,
          provider: TARGET.provider,
          cwd: TARGET.dir,
          processes,
          concurrency: 64,
          providerConcurrency: 64,
        }
  const config = parseConfig(
    { groups: { bench: group }, routes: [] },
    { baseDir: kind === 'python' ? PY_TARGET.dir : TARGET.dir },
  )
  const sup: Supervisor = new SupervisorClass({
    log: pino({ level: 'warn' }, destination(2)),
    groups: Object.values(config.groups),
  })
  await sup.start()
  try {
    const provider = new GroupProviderClass('bench', sup.group('bench'), {
      callTimeoutMs: 10_000,
      concurrency: 64,
      queueTimeoutMs: 1_000,
    })
    await provider.start()
    return await fn(provider)
  } finally {
    await sup.close()
  }
}

function describe(processes: number, r: RoundTrips, kind: Kind = 'node'): string {
  const f = (n: number) => `${n.toFixed(0).padStart(5)} µs`
  return (
    `GroupProvider.checkPassword, ${kind === 'python' ? 'Python auth script, ' : ''}${processes} process${processes > 1 ? 'es' : ''}, ${r.callers} callers, ${r.calls} calls: ` +
    `median ${f(r.p50Us)}  p99 ${f(r.p99Us)}  max ${f(r.maxUs)}  ${r.callsPerSec.toFixed(0)} calls/s`
  )
}

async function cannon(
  url: string,
  duration: number,
  headers: string[],
): Promise<{ non2xx: number; errors: number; requests: { average: number }; latency: { p50: number; p99: number } }> {
  const args = [AUTOCANNON, '-c', '32', '-d', String(duration), '-j', ...headers.flatMap((h) => ['-H', h]), url]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'] })
  let out = ''
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString()
  })
  await once(child, 'exit')
  return JSON.parse(out)
}

async function viaFront(): Promise<string[]> {
  const auth = (cache: boolean) => ({ scheme: 'basic', realm: 'Bench', provider: 'bench', cache })
  const config = parseConfig(
    {
      listen: { host: '127.0.0.1', port: 0 },
      log: { level: 'warn' },
      groups: { bench: { app: TARGET.app, provider: TARGET.provider, cwd: TARGET.dir, processes: 1 } },
      routes: [
        { path: '/nocache', group: 'bench', auth: auth(false) },
        { path: '/cached', group: 'bench', auth: auth(true) },
        { path: '/open', group: 'bench' },
      ],
    },
    { baseDir: TARGET.dir },
  )
  const gw = await runGateway(config, { signals: false })
  const header = `authorization=Basic ${Buffer.from(`${TARGET.user}:${TARGET.password}`).toString('base64')}`
  const lines: string[] = []
  try {
    for (const [path, label] of [
      ['/nocache/', 'Basic, cache off (a provider call per request)'],
      ['/cached/', 'Basic, cache on'],
      ['/open/', 'no auth'],
    ] as const) {
      await cannon(`${gw.address}${path}`, 1, [header])
      const r = await cannon(`${gw.address}${path}`, SECONDS, [header])
      if (r.non2xx > 0 || r.errors > 0) throw new Error(`${path}: ${r.non2xx} non-2xx, ${r.errors} errors`)
      lines.push(
        `front → group app, ${label.padEnd(46)} ${r.requests.average.toFixed(0).padStart(7)} req/s  p50 ${r.latency.p50} ms  p99 ${r.latency.p99} ms`,
      )
    }
  } finally {
    await gw.stop()
  }
  return lines
}

const hasPython = existsSync(PYTHON)

if (flags.json) {
  const result: ProviderCall = await withProvider(1, async (p) => ({
    single: await measure(p, CALLS, 1),
    concurrent: await measure(p, CALLS, CALLERS),
  }))
  if (hasPython)
    result.python = await withProvider(
      1,
      async (p) => ({
        single: await measure(p, CALLS, 1, 'python'),
        concurrent: await measure(p, CALLS, CALLERS, 'python'),
      }),
      'python',
    )
  process.stdout.write(JSON.stringify(result) + '\n')
} else {
  console.log(describe(1, await withProvider(1, (p) => measure(p, CALLS, CALLERS))))
  console.log(describe(2, await withProvider(2, (p) => measure(p, CALLS, CALLERS))))
  if (hasPython) {
    console.log(describe(1, await withProvider(1, (p) => measure(p, CALLS, 1, 'python'), 'python'), 'python'))
    console.log(describe(1, await withProvider(1, (p) => measure(p, CALLS, CALLERS, 'python'), 'python'), 'python'))
  }
  for (const line of await viaFront()) console.log(line)
}
