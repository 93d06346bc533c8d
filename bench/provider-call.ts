/**
 * What a group provider call costs. Two measurements, printed:
 *  1. Round trip of a trivial checkPassword through GroupProvider → unix socket → daemon
 *     process → back: CALLERS concurrent callers, CALLS calls in all (after a warm-up), with
 *     the median, p99 and max latency and the calls/s it sustained.
 *  2. Through the front with the credential cache off (`cache: false`): requests/s of a Basic
 *     route whose provider is the group (one provider call per request), next to the same
 *     route with the cache on and with no auth at all (autocannon, 32 connections).
 *   node --import tsx bench/provider-call.ts [calls=20000] [callers=32] [seconds=5]
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { parseConfig } from '../src/config.js'
import { Supervisor } from '../src/daemon/supervisor.js'
import { runGateway } from '../src/gateway.js'
import { GroupProvider } from '../src/providers/group-provider.js'
import type { AuthContext } from '../src/providers/contract.js'

const CALLS = Number(process.argv[2] ?? 20_000)
const CALLERS = Number(process.argv[3] ?? 32)
const SECONDS = Number(process.argv[4] ?? 5)
const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures', 'group-providers')
const PROVIDER = join(FIXTURES, 'trivial.ts')
const APP = join(FIXTURES, 'hello.ts')
const AUTOCANNON = join(dirname(createRequire(import.meta.url).resolve('autocannon/package.json')), 'autocannon.js')
const CTX: AuthContext = { method: 'GET', path: '/p', host: '127.0.0.1', remoteAddress: '127.0.0.1', route: '/p', realm: 'Bench', headers: { 'user-agent': 'bench', accept: '*/*' } }

/** CALLERS loops share `total` calls; each call's round trip in ms. */
async function roundTrips(provider: GroupProvider, total: number): Promise<{ ms: number[]; wallMs: number }> {
  const ms: number[] = []
  let left = total
  const check = provider.checkPassword!
  const caller = async (): Promise<void> => {
    while (left > 0) {
      left--
      const t0 = performance.now()
      const ok = await check(CTX, 'bench', 'bench-pw')
      ms.push(performance.now() - t0)
      if (ok !== true) throw new Error(`checkPassword answered ${String(ok)}`)
    }
  }
  const start = performance.now()
  await Promise.all(Array.from({ length: CALLERS }, caller))
  return { ms, wallMs: performance.now() - start }
}

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN

async function direct(processes: number): Promise<string> {
  const sup = new Supervisor({
    log: pino({ level: 'warn' }),
    groups: [{
      name: 'bench', app: APP, provider: PROVIDER, providerOptions: {}, providerTimeoutMs: 10_000, providerConcurrency: 64, providerQueueTimeoutMs: 1_000,
      processes, concurrency: 64, cwd: FIXTURES, env: {}, execArgv: [], maxRequests: 0, requestTimeoutMs: 30_000,
      gracefulTimeoutMs: 1_000, inactivityTimeoutMs: 0, queueTimeoutMs: 5_000, reloadOn: [], fileRoots: [],
    }],
  })
  await sup.start()
  try {
    const provider = new GroupProvider('bench', sup.group('bench'), { callTimeoutMs: 10_000, concurrency: 64, queueTimeoutMs: 1_000 })
    await provider.start()
    await roundTrips(provider, Math.min(2_000, CALLS)) // warm-up: JIT, socket buffers
    const { ms, wallMs } = await roundTrips(provider, CALLS)
    ms.sort((a, b) => a - b)
    const f = (n: number) => `${(n * 1000).toFixed(0).padStart(5)} µs`
    return `GroupProvider.checkPassword, ${processes} process${processes > 1 ? 'es' : ''}, ${CALLERS} callers, ${CALLS} calls: ` +
      `median ${f(quantile(ms, 0.5))}  p99 ${f(quantile(ms, 0.99))}  max ${f(ms[ms.length - 1]!)}  ${(CALLS / (wallMs / 1000)).toFixed(0)} calls/s`
  } finally {
    await sup.close()
  }
}

async function cannon(url: string, duration: number, headers: string[]): Promise<{ non2xx: number; errors: number; requests: { average: number }; latency: { p50: number; p99: number } }> {
  const args = [AUTOCANNON, '-c', '32', '-d', String(duration), '-j', ...headers.flatMap((h) => ['-H', h]), url]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'] })
  let out = ''
  child.stdout.on('data', (c: Buffer) => { out += c.toString() })
  await once(child, 'exit')
  return JSON.parse(out)
}

async function viaFront(): Promise<string[]> {
  const auth = (cache: boolean) => ({ scheme: 'basic', realm: 'Bench', provider: 'bench', cache })
  const config = parseConfig({
    listen: { host: '127.0.0.1', port: 0 },
    log: { level: 'warn' },
    groups: { bench: { app: APP, provider: PROVIDER, cwd: FIXTURES, processes: 1 } },
    routes: [
      { path: '/nocache', group: 'bench', auth: auth(false) },
      { path: '/cached', group: 'bench', auth: auth(true) },
      { path: '/open', group: 'bench' },
    ],
  }, { baseDir: FIXTURES })
  const gw = await runGateway(config, { signals: false })
  const header = `authorization=Basic ${Buffer.from('bench:bench-pw').toString('base64')}`
  const lines: string[] = []
  try {
    for (const [path, label] of [['/nocache/', 'Basic, cache off (a provider call per request)'], ['/cached/', 'Basic, cache on'], ['/open/', 'no auth']] as const) {
      await cannon(`${gw.address}${path}`, 1, [header])
      const r = await cannon(`${gw.address}${path}`, SECONDS, [header])
      if (r.non2xx > 0 || r.errors > 0) throw new Error(`${path}: ${r.non2xx} non-2xx, ${r.errors} errors`)
      lines.push(`front → group app, ${label.padEnd(46)} ${r.requests.average.toFixed(0).padStart(7)} req/s  p50 ${r.latency.p50} ms  p99 ${r.latency.p99} ms`)
    }
  } finally {
    await gw.stop()
  }
  return lines
}

console.log(await direct(1))
console.log(await direct(2))
for (const line of await viaFront()) console.log(line)
