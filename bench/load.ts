/**
 * `npm run load`: bounded load runs with error counts, on 127.0.0.1 only, each at
 * most 15 s, against a gatehouse front (compiled, in its own process) whose route /web is Basic
 * (cache hit after the first request) to the daemon group `web` (2 processes, app and provider
 * in the group, as in the tracker demo). wrk (else autocannon) counts non-2xx answers and
 * socket errors:
 *   (a) steady load: zero errors;
 *   (b) the same while the group's app file is touched every 500 ms (rolling reloads; each one
 *       also empties the credential cache of the group's provider): zero errors;
 *   (c) the same while one daemon process of the group (by PID, from the admin /status.json)
 *       is SIGKILLed every 2 s: errors bounded by the requests in flight on the killed process.
 *       In flight anywhere is at most the client's connections (one request per connection),
 *       so kills × connections is a hard bound; the in-flight counts that status showed just
 *       before each kill are printed too.
 * Prints a table and the front's warnings by message; exits 1 if (a) or (b) had an error (or
 * (b) saw no reload), else 0. (c) passing its bound is printed, not an exit code (the
 * exit code speaks for (a) and (b) only). Every process it starts is stopped by PID at the end.
 *
 *   npm run load -- [--seconds 10] [--connections 16] [--no-build] [--source]
 */
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, utimesSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { buildDist } from './lib/build.js'
import { loadTool, runLoad, type LoadResult } from './lib/load.js'
import { TSX_ARGS, startProcess, stopAll } from './lib/processes.js'
import type { FrontSpec } from './servers/front.js'

const HERE = dirname(fileURLToPath(import.meta.url))
const MAX_SECONDS = 15
const TOUCH_EVERY_MS = 500
const KILL_EVERY_MS = 2_000
const PROCESSES = 2

const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '16' },
    'no-build': { type: 'boolean', default: false },
    source: { type: 'boolean', default: false },
  },
})
const seconds = Number(flags.seconds)
const connections = Number(flags.connections)
if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_SECONDS)
  throw new Error(`--seconds must be a whole number 1..${MAX_SECONDS}, got ${flags.seconds}`)
if (!Number.isInteger(connections) || connections < 1)
  throw new Error(`--connections must be a whole number ≥ 1, got ${flags.connections}`)

const BASIC = { authorization: `Basic ${Buffer.from('bench:bench').toString('base64')}` }

interface ProcessStatus {
  pid: number | null
  state: string
  inflight: number
}
interface GroupStatus {
  name: string
  reloads: number
  restarts: number
  processes: ProcessStatus[]
}

/** GET /status.json from the admin socket. */
function groupStatus(socketPath: string, group: string): Promise<GroupStatus> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: '/status.json', headers: { host: 'localhost' } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`admin /status.json answered ${res.statusCode}`))
        const found = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { groups: GroupStatus[] }).groups.find(
          (g) => g.name === group,
        )
        if (found === undefined) reject(new Error(`no group ${group} in /status.json`))
        else resolve(found)
      })
    })
    req.once('error', reject)
    req.end()
  })
}

interface Outcome {
  name: string
  result: LoadResult
  events: string
  /** The most errors allowed; 0 for (a) and (b). */
  bound: number
  boundNote: string
  /** A reason the run proves nothing or failed besides its errors. */
  problem?: string
  /** false: more errors than the bound are reported, not a failure. */
  enforced: boolean
}

const errorsOf = (r: LoadResult): number => r.non2xx + r.errors

async function main(): Promise<number> {
  if (!flags.source && !flags['no-build']) {
    process.stderr.write('building dist/ (tsc)…\n')
    buildDist()
  }
  const work = mkdtempSync(join(tmpdir(), 'gh-load-'))
  try {
    return await runAll(work)
  } finally {
    await stopAll()
    rmSync(work, { recursive: true, force: true })
  }
}

async function runAll(work: string): Promise<number> {
  const appDir = join(work, 'web')
  mkdirSync(appDir)
  const app = join(appDir, 'app.mjs')
  copyFileSync(join(HERE, 'apps', 'hello.mjs'), app)
  copyFileSync(join(HERE, 'apps', 'provider.mjs'), join(appDir, 'provider.mjs'))
  const adminSocket = join(work, 'admin', 'admin.sock')
  const config = {
    listen: { host: '127.0.0.1', port: 0 },
    groups: { web: { app: 'web/app.mjs', provider: 'web/provider.mjs', cwd: 'web', processes: PROCESSES } },
    routes: [{ path: '/web', group: 'web', auth: { scheme: 'basic', realm: 'Load', provider: 'web' } }],
    admin: { socket: adminSocket },
    log: { level: 'info' },
  }
  const spec: FrontSpec = {
    upstream: '',
    processes: PROCESSES,
    logLevel: 'info',
    daemonExecArgv: [],
    source: flags.source === true,
    config,
    baseDir: work,
  }
  const logFd = openSync(join(work, 'front.log'), 'w')
  const front = await startProcess<{ url: string }>(
    TSX_ARGS,
    join(HERE, 'servers', 'front.ts'),
    [JSON.stringify(spec)],
    { readyStream: 'stderr', prefix: 'BENCH-READY ', stdout: logFd },
  )
  closeSync(logFd)
  const url = new URL('/web/', front.ready.url).href
  const load = (): Promise<LoadResult> => runLoad({ url, seconds, connections, headers: BASIC })
  const status = (): Promise<GroupStatus> => groupStatus(adminSocket, 'web')

  process.stderr.write(`warm-up (1 s)…\n`)
  await runLoad({ url, seconds: 1, connections, headers: BASIC })
  const outcomes: Outcome[] = []

  process.stderr.write(`(a) steady load (${seconds} s)…\n`)
  outcomes.push({
    name: '(a) steady, Basic (cache hit)',
    result: await load(),
    events: '-',
    bound: 0,
    boundNote: 'zero errors',
    enforced: true,
  })

  process.stderr.write(`(b) touching the app every ${TOUCH_EVERY_MS} ms (${seconds} s)…\n`)
  const before = await status()
  let touches = 0
  const toucher = setInterval(() => {
    const now = new Date()
    utimesSync(app, now, now)
    touches++
  }, TOUCH_EVERY_MS)
  const touched = await load().finally(() => clearInterval(toucher))
  const reloads = (await status()).reloads - before.reloads
  outcomes.push({
    name: '(b) rolling reloads (app touched)',
    result: touched,
    events: `${touches} touches, ${reloads} reloads`,
    bound: 0,
    boundNote: 'zero errors',
    enforced: true,
    ...(reloads === 0 ? { problem: 'no reload happened' } : {}),
  })

  process.stderr.write(`(c) SIGKILL of one daemon process every ${KILL_EVERY_MS} ms (${seconds} s)…\n`)
  const kills: Array<{ pid: number; inflight: number }> = []
  const restartsBefore = (await status()).restarts
  let killing = Promise.resolve()
  const killer = setInterval(() => {
    killing = killing
      .then(async () => {
        const ready = (await status()).processes.filter((p) => p.state === 'ready' && p.pid !== null)
        const victim = ready[kills.length % Math.max(ready.length, 1)]
        if (victim === undefined) return
        kills.push({ pid: victim.pid as number, inflight: victim.inflight })
        process.kill(victim.pid as number, 'SIGKILL')
      })
      .catch((err: unknown) => {
        process.stderr.write(`kill round failed: ${String(err)}\n`)
      })
  }, KILL_EVERY_MS)
  const killed = await load().finally(() => clearInterval(killer))
  await killing
  const restarts = (await status()).restarts - restartsBefore
  const seen = kills.reduce((a, k) => a + k.inflight, 0)
  const bound = kills.length * connections
  outcomes.push({
    name: '(c) one process SIGKILLed',
    result: killed,
    events: `${kills.length} kills, ${restarts} respawns`,
    bound,
    boundNote: `≤ ${kills.length} kills × ${connections} connections = ${bound} (in flight on the victims per status: ${kills.map((k) => k.inflight).join('+') || '0'} = ${seen})`,
    enforced: false,
  })

  process.stdout.write(`\n${formatOutcomes(outcomes)}\n`)
  await stopAll()
  process.stdout.write(`\n${logSummary(join(work, 'front.log'))}\n`)
  const over = outcomes.filter((o) => errorsOf(o.result) > o.bound || o.problem !== undefined)
  for (const o of over)
    process.stdout.write(
      `${o.enforced ? 'FAILED' : 'OVER THE BOUND (reported, not a failure)'} ${o.name}: ${o.problem ?? `${errorsOf(o.result)} errors, bound ${o.bound}`}\n`,
    )
  return over.some((o) => o.enforced) ? 1 : 0
}

/** The front's warnings and errors over all runs, counted by message (they explain the errors of (c)). */
function logSummary(file: string): string {
  const counts = new Map<string, number>()
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue
    const entry = JSON.parse(line) as {
      level?: number
      msg?: string
      statusCode?: number
      err?: unknown
      res?: { statusCode?: number }
    }
    const status = entry.res?.statusCode ?? entry.statusCode
    if ((entry.level ?? 0) < 40 && !(status !== undefined && status >= 400)) continue
    const key = `${entry.msg ?? '?'}${status !== undefined ? ` (${status})` : ''}`
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  const lines = [...counts].sort((a, b) => b[1] - a[1]).map(([msg, n]) => `  ${String(n).padStart(6)}  ${msg}`)
  return ['front log, warnings/errors and error answers by message:', ...(lines.length > 0 ? lines : ['  none'])].join(
    '\n',
  )
}

function formatOutcomes(outcomes: Outcome[]): string {
  const lines = [
    `gatehouse front (dist${flags.source ? ' → src' : ''}) → daemon group web (${PROCESSES} processes), Basic; ${loadTool()} 1 thread, ${connections} connections, ${seconds} s per run, 127.0.0.1`,
    '',
    `${'run'.padEnd(34)} ${'requests'.padStart(8)} ${'req/s'.padStart(7)} ${'non-2xx'.padStart(7)} ${'sock err'.padStart(8)}  ${'events'.padEnd(24)} allowed errors`,
  ]
  for (const o of outcomes) {
    lines.push(
      `${o.name.padEnd(34)} ${String(o.result.requests).padStart(8)} ${o.result.rps.toFixed(0).padStart(7)} ${String(o.result.non2xx).padStart(7)} ${String(o.result.errors).padStart(8)}  ${o.events.padEnd(24)} ${o.boundNote}`,
    )
  }
  return lines.join('\n')
}

process.exitCode = await main()
