/**
 * `npm run bench`: hello-world requests/s through gatehouse as ratios to a bare Fastify hello
 * world measured in the same run, the CPU time each request costs the front and the daemons,
 * and the memory of the front and of each daemon process. Every server runs in its own process
 * and the load generator in another (wrk -t1 -cN, else autocannon); all on 127.0.0.1; every
 * process started here is stopped by PID at the end.
 *
 *   npm run bench -- [--seconds 5] [--warmup 1] [--connections 32] [--rounds 1] [--processes 1] [--workers 1]
 *                    [--only a,b] [--log-level info] [--profile] [--out bench/results/latest.json]
 *                    [--no-build] [--source] [--no-provider-call] [--share-when-busy 0.25] [--slow-group-concurrency N]
 *                    [--python-threads 15] [--no-peers] [--help]
 *
 * gatehouse runs compiled (it first runs `tsc`, as `npm run build` does; --no-build skips that)
 * unless --source runs it from src/ through tsx.
 * Each round measures bare Fastify, then every chosen scenario; one more bare run closes the
 * last round. A scenario's ratio in a round is to the mean of the bare runs around it, and the
 * table gives medians over rounds (other load on the machine moves requests/s a lot; CPU µs
 * per request much less). --profile runs the chosen scenarios (default group-basic) under
 * `node --cpu-prof` (front and daemons) and prints where the CPU time goes.
 * After the rounds (unless --only or --profile leaves it out, or --no-provider-call): the
 * provider-call round trip (bench/provider-call.ts --json), then the throughput targets next to
 * the figures, marked met / not met (never a failure).
 * Peer rows (Caddy, Apache + mod_wsgi; bench/peers/) run when their Debian packages are
 * installed, and are held against gatehouse's rows under the table; --no-peers leaves them out.
 */
import { execFileSync, spawn } from 'node:child_process'
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { buildDist } from './lib/build.js'
import { TICK_US, contextSwitches, cpuTimeUs, machineTicks, totalCpuUs } from './lib/cpu.js'
import { loadTool } from './lib/load.js'
import { TSX_ARGS, resolveJson, rssOf, startProcess, stopAll } from './lib/processes.js'
import { formatPerProcess, formatTable, median, type Measurement, type Row } from './lib/report.js'
import {
  formatBudget,
  formatNotes,
  formatProviderCall,
  formatTargets,
  targetsOf,
  type ProviderCall,
} from './lib/targets.js'
import { formatSummary, summarize, type Window } from './profile-summary.js'
import { peerPairs, scalePairs, scenarios, type Scenario, type Servers } from './scenarios.js'
import { processTree, startPeers, stopPeers, type PeerName, type Peers } from './lib/peers.js'
import type { FrontSpec } from './servers/front.js'
import { REDIS_SERVER, startRedis } from './lib/redis.js'

const HERE = dirname(fileURLToPath(import.meta.url))

const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    connections: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '1' },
    processes: { type: 'string', default: '1' },
    workers: { type: 'string', default: '1' },
    only: { type: 'string' },
    'log-level': { type: 'string', default: 'info' },
    profile: { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    source: { type: 'boolean', default: false },
    'no-provider-call': { type: 'boolean', default: false },
    'share-when-busy': { type: 'string' },
    'slow-group-concurrency': { type: 'string' },
    'python-threads': { type: 'string' },
    'no-peers': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
    out: { type: 'string', default: join(HERE, 'results', 'latest.json') },
  },
})

if (flags.help) {
  process.stdout
    .write(`npm run bench -- [--seconds 5] [--warmup 1] [--connections 32] [--rounds 1] [--processes 1] [--workers 1]
                    [--only a,b] [--log-level info] [--profile] [--out bench/results/latest.json]
                    [--no-build] [--source] [--no-provider-call] [--share-when-busy 0.25] [--slow-group-concurrency N] [--python-threads 15] [--no-peers]
scenarios: ${scenarios.map((s) => s.name).join(', ')} (see docs/performance.md)\n`)
  process.exit(0)
}

/** wrk takes whole seconds; every numeric flag is checked before anything starts. */
function wholeNumber(
  name: 'seconds' | 'warmup' | 'connections' | 'rounds' | 'processes' | 'workers',
  min: number,
): number {
  const v = Number(flags[name])
  if (!Number.isInteger(v) || v < min) throw new Error(`--${name} must be a whole number ≥ ${min}, got ${flags[name]}`)
  return v
}

const seconds = wholeNumber('seconds', 1)
const warmup = wholeNumber('warmup', 0)
const connections = wholeNumber('connections', 1)
const rounds = wholeNumber('rounds', 1)
const processes = wholeNumber('processes', 1)
const workers = wholeNumber('workers', 1)
/** Stops the redis-server of the state.redis row, when it ran. */
let redisStop: () => Promise<void> = async () => {}
/** The slow-login provider's shareWhenBusy (default: the shipped default), to compare with 1 (never rest). */
const shareWhenBusy = flags['share-when-busy'] === undefined ? undefined : Number(flags['share-when-busy'])
if (shareWhenBusy !== undefined && !(shareWhenBusy > 0 && shareWhenBusy <= 1))
  throw new Error(`--share-when-busy must be a number above 0 and at most 1, got ${flags['share-when-busy']}`)
/** The slow-login group's providerConcurrency (default: the shipped default). */
const slowGroupConcurrency =
  flags['slow-group-concurrency'] === undefined ? undefined : Number(flags['slow-group-concurrency'])
if (slowGroupConcurrency !== undefined && !(Number.isInteger(slowGroupConcurrency) && slowGroupConcurrency >= 1))
  throw new Error(`--slow-group-concurrency must be a whole number ≥ 1, got ${flags['slow-group-concurrency']}`)
/** The Python group's threads per process (default: 15, the Apache peer's). */
const pythonThreads = flags['python-threads'] === undefined ? undefined : Number(flags['python-threads'])
if (pythonThreads !== undefined && !(Number.isInteger(pythonThreads) && pythonThreads >= 1))
  throw new Error(`--python-threads must be a whole number ≥ 1, got ${flags['python-threads']}`)
const work = mkdtempSync(join(tmpdir(), 'gh-bench-'))
const profileDir = join(work, 'profiles')

interface Daemon {
  group: string
  pid: number
}

let peers: Peers = { running: {}, missing: [] }

type ExtraFront = 'frontW2' | 'frontW2Redis'
type BareCluster = 'bareW1' | 'bareW2'
const isBareCluster = (server: string): server is BareCluster => server === 'bareW1' || server === 'bareW2'

/** Bare Fastify under node:cluster with `workers` workers (bench/servers/bare-cluster.ts). */
async function startBareCluster(workers: number): Promise<{ url: string; pids: number[] }> {
  const c = await startProcess<{ url: string; pids: number[] }>(
    TSX_ARGS,
    join(HERE, 'servers', 'bare-cluster.ts'),
    [String(workers)],
    { readyStream: 'stdout' },
  )
  return c.ready
}

async function startFront(
  spec: FrontSpec,
  prof: string[],
  log: string,
): Promise<{ url: string; daemons: Daemon[]; fronts: number[] }> {
  // The front logs like a deployed one: access lines at info, to a file.
  const logFd = openSync(join(work, log), 'w')
  const front = await startProcess<{ url: string; daemons: Daemon[]; fronts: number[] }>(
    [...TSX_ARGS, ...prof],
    join(HERE, 'servers', 'front.ts'),
    [JSON.stringify(spec)],
    { readyStream: 'stderr', prefix: 'BENCH-READY ', stdout: logFd },
  )
  closeSync(logFd)
  return front.ready
}

async function startServers(
  wantedPeers: PeerName[],
  extra: Set<ExtraFront>,
  clusters: Set<BareCluster>,
): Promise<{ servers: Servers; daemons: Daemon[] }> {
  const bare = await startProcess<{ url: string }>(TSX_ARGS, join(HERE, 'servers', 'bare.ts'), [], {
    readyStream: 'stdout',
  })
  const upstream = await startProcess<{ url: string }>(TSX_ARGS, join(HERE, 'servers', 'upstream.ts'), [], {
    readyStream: 'stdout',
  })
  const prof = flags.profile ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []
  if (flags.profile) mkdirSync(profileDir)
  const spec: FrontSpec = {
    upstream: upstream.ready.url,
    processes,
    logLevel: flags['log-level'] as string,
    daemonExecArgv: prof,
    ...(flags.profile ? { pythonProfileDir: profileDir } : {}),
    source: flags.source === true,
    workDir: work,
    ...(shareWhenBusy !== undefined ? { shareWhenBusy } : {}),
    ...(slowGroupConcurrency !== undefined ? { slowGroupConcurrency } : {}),
    ...(pythonThreads !== undefined ? { pythonThreads } : {}),
  }
  const front = await startFront({ ...spec, ...(workers > 1 ? { workers } : {}) }, prof, 'front.log')
  const frontW2 = extra.has('frontW2') ? await startFront({ ...spec, workers: 2 }, [], 'front-w2.log') : undefined
  let frontW2Redis: typeof frontW2
  if (extra.has('frontW2Redis')) {
    const redis = await startRedis(work)
    redisStop = async () => {
      redis.client.disconnect()
      redis.child.kill('SIGTERM')
    }
    frontW2Redis = await startFront({ ...spec, workers: 2, redis: redis.url }, [], 'front-w2-redis.log')
  }
  const bareW1 = clusters.has('bareW1') ? await startBareCluster(1) : undefined
  const bareW2 = clusters.has('bareW2') ? await startBareCluster(2) : undefined
  const floor = await startProcess<{ url: string; daemonPid: number }>(
    TSX_ARGS,
    join(HERE, 'servers', 'floor.ts'),
    [],
    { readyStream: 'stdout' },
  )
  const proxyFloor = await startProcess<{ url: string }>(
    TSX_ARGS,
    join(HERE, 'servers', 'proxy-floor.ts'),
    [upstream.ready.url],
    { readyStream: 'stdout' },
  )
  const proxyFloorRaw = await startProcess<{ url: string }>(
    TSX_ARGS,
    join(HERE, 'servers', 'proxy-floor-raw.ts'),
    [upstream.ready.url],
    { readyStream: 'stdout' },
  )
  const pids = {
    bare: bare.pid,
    upstream: upstream.pid,
    front: front.fronts[0] as number,
    fronts: front.fronts,
    frontW2: frontW2?.fronts ?? [],
    frontW2Redis: frontW2Redis?.fronts ?? [],
    frontW2Daemons: frontW2?.daemons.map((d) => d.pid) ?? [],
    frontW2RedisDaemons: frontW2Redis?.daemons.map((d) => d.pid) ?? [],
    bareW1: bareW1?.pids ?? [],
    bareW2: bareW2?.pids ?? [],
    daemons: front.daemons.map((d) => d.pid),
    floor: floor.pid,
    floorDaemon: floor.ready.daemonPid,
    proxyFloor: proxyFloor.pid,
    proxyFloorRaw: proxyFloorRaw.pid,
  }
  peers = await startPeers(upstream.ready.url, wantedPeers)
  return {
    servers: {
      bare: bare.ready.url,
      upstream: upstream.ready.url,
      front: front.url,
      ...(frontW2 ? { frontW2: frontW2.url } : {}),
      ...(frontW2Redis ? { frontW2Redis: frontW2Redis.url } : {}),
      ...(bareW1 ? { bareW1: bareW1.url } : {}),
      ...(bareW2 ? { bareW2: bareW2.url } : {}),
      floor: floor.ready.url,
      proxyFloor: proxyFloor.ready.url,
      proxyFloorRaw: proxyFloorRaw.ready.url,
      pids,
      peers: peers.running,
    },
    daemons: front.daemons,
  }
}

/** Monotonic-clock windows of the measured runs (what --profile summarizes). */
const windows: Window[] = []
const nowUs = (): number => Number(process.hrtime.bigint() / 1000n)

async function measure(s: Scenario, servers: Servers): Promise<Measurement> {
  const ctx = { servers, connections }
  if (warmup > 0 && s.warmup !== false) await s.run({ ...ctx, seconds: warmup })
  // A peer's CPU is its whole process tree (Apache's children and mod_wsgi daemons); its main thread means nothing.
  const serverPids =
    s.server === 'peer'
      ? processTree((servers.peers[s.peer as PeerName] as { pid: number }).pid)
      : s.server === 'front' || s.server === 'frontW2' || s.server === 'frontW2Redis' || isBareCluster(s.server)
        ? servers.pids[s.server === 'front' ? 'fronts' : s.server]
        : [servers.pids[s.server]]
  const serverPid = serverPids[0] as number
  // Each front supervises daemon groups of its own.
  const daemons =
    s.server === 'front'
      ? servers.pids.daemons
      : s.server === 'frontW2'
        ? servers.pids.frontW2Daemons
        : s.server === 'frontW2Redis'
          ? servers.pids.frontW2RedisDaemons
          : s.server === 'floor'
            ? [servers.pids.floorDaemon]
            : []
  const split = s.server.startsWith('front') || isBareCluster(s.server)
  const cpu0 = {
    server: totalCpuUs(serverPids),
    each: serverPids.map((pid) => cpuTimeUs(pid)),
    switches: serverPids.map((pid) => contextSwitches(pid)),
    main: cpuTimeUs(serverPid, true),
    daemons: totalCpuUs(daemons),
    machine: machineTicks(),
  }
  const fromUs = nowUs()
  const result = await s.run({ ...ctx, seconds })
  const machine = machineTicks()
  if (s.name !== 'bare') windows.push({ fromUs, toUs: nowUs() })
  const requests = Math.max(result.requests, 1)
  if (result.non2xx > 0 || result.errors > 0)
    process.stderr.write(`warning: ${s.name}: ${result.non2xx} non-2xx, ${result.errors} socket errors\n`)
  return {
    result,
    serverUsPerReq: (totalCpuUs(serverPids) - cpu0.server) / requests,
    mainUsPerReq: s.server === 'peer' ? Number.NaN : (cpuTimeUs(serverPid, true) - cpu0.main) / requests,
    busy: (machine.busy - cpu0.machine.busy) / Math.max(machine.total - cpu0.machine.total, 1),
    ...(daemons.length > 0 ? { daemonUsPerReq: (totalCpuUs(daemons) - cpu0.daemons) / requests } : {}),
    ...(split
      ? {
          perProcess: serverPids.map((pid, i) => ({
            usPerReq: (cpuTimeUs(pid) - (cpu0.each[i] as number)) / requests,
            switchesPerReq: (contextSwitches(pid) - (cpu0.switches[i] as number)) / requests,
          })),
          otherUsPerReq:
            ((machine.busy - cpu0.machine.busy) * TICK_US -
              (totalCpuUs(serverPids) - cpu0.server) -
              (totalCpuUs(daemons) - cpu0.daemons)) /
            requests,
        }
      : {}),
  }
}

function summarizeRuns(s: Scenario, runs: Measurement[], bareByRound: number[], also?: Measurement[]): Row {
  const ratios = runs.map((m, i) => m.result.rps / (bareByRound[i] as number))
  const opt = (xs: Array<number | undefined>): number | undefined =>
    xs.every((x) => x !== undefined) ? median(xs as number[]) : undefined
  return {
    name: s.name,
    label: s.label,
    rps: median(runs.map((m) => m.result.rps)),
    ratio: median(ratios),
    serverUsPerReq: median(runs.map((m) => m.serverUsPerReq)),
    mainUsPerReq: median(runs.map((m) => m.mainUsPerReq)),
    busy: median(runs.map((m) => m.busy)),
    daemonUsPerReq: opt(runs.map((m) => m.daemonUsPerReq)),
    p50ms: opt(runs.map((m) => m.result.p50ms)),
    p99ms: opt(runs.map((m) => m.result.p99ms)),
    errors: runs.reduce((a, m) => a + m.result.non2xx + m.result.errors, 0),
    rounds: runs.map((m, i) => ({ rps: m.result.rps, ratio: ratios[i] as number })),
    ...perProcessOf(runs),
    notes: runs.flatMap((m) => (m.result.note ? [m.result.note] : [])),
    ...(also
      ? {
          also: {
            name: s.alsoAgainst as string,
            ratio: median(runs.map((m, i) => m.result.rps / (also[i] as Measurement).result.rps)),
          },
        }
      : {}),
  }
}

/** Medians over rounds of each process's figures (rows whose runs all split them). */
function perProcessOf(runs: Measurement[]): Pick<Row, 'perProcess' | 'otherUsPerReq'> {
  const first = runs[0]?.perProcess
  if (first === undefined || runs.some((m) => m.perProcess?.length !== first.length)) return {}
  return {
    perProcess: first.map((_, i) => ({
      usPerReq: median(runs.map((m) => (m.perProcess?.[i]?.usPerReq as number) ?? 0)),
      switchesPerReq: median(runs.map((m) => (m.perProcess?.[i]?.switchesPerReq as number) ?? 0)),
    })),
    otherUsPerReq: median(runs.map((m) => m.otherUsPerReq ?? 0)),
  }
}

/** The provider round trip, in a process of its own, against a daemon it starts itself. */
function providerCall(): Promise<ProviderCall> {
  return new Promise((resolve, reject) => {
    const args = [
      ...TSX_ARGS,
      join(HERE, 'provider-call.ts'),
      '--json',
      ...(flags.source ? [] : ['--dist']),
      '20000',
      '32',
    ]
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString()
    })
    const timer = setTimeout(() => process.kill(child.pid as number, 'SIGKILL'), 120_000)
    child.once('error', reject)
    child.once('exit', (code) => {
      clearTimeout(timer)
      if (code !== 0) return reject(new Error(`provider-call exited with ${code}`))
      resolveJson(out, 'provider-call', resolve, reject)
    })
  })
}

function sumRss(pids: readonly number[]): number {
  return pids.reduce((n, pid) => n + rssOf(pid), 0)
}

async function main(): Promise<void> {
  if (!flags.source && !flags['no-build']) {
    process.stderr.write('building dist/ (tsc)…\n')
    buildDist()
  }
  const chosen = flags.only
    ? flags.only.split(',')
    : flags.profile
      ? ['group-basic']
      : scenarios.map((s) => s.name).filter((n) => n !== 'bare')
  // The slow-logins row is compared with the cache-hit row: it needs that one in the same round.
  if (chosen.some((n) => n.startsWith('group-basic-slow')) && !chosen.includes('group-basic'))
    chosen.unshift('group-basic')
  const unknown = chosen.filter((n) => !scenarios.some((s) => s.name === n))
  if (unknown.length > 0)
    throw new Error(`unknown scenario(s): ${unknown.join(', ')}; known: ${scenarios.map((s) => s.name).join(', ')}`)
  const wantedPeers = flags['no-peers']
    ? []
    : [
        ...new Set(
          scenarios.filter((s) => s.peer !== undefined && chosen.includes(s.name)).map((s) => s.peer as PeerName),
        ),
      ]
  const bareScenario = scenarios.find((s) => s.name === 'bare') as Scenario
  const extra = new Set(
    scenarios
      .filter((s) => chosen.includes(s.name))
      .flatMap((s) => (s.server.startsWith('frontW2') ? [s.server as ExtraFront] : [])),
  )
  if (extra.has('frontW2Redis') && !existsSync(REDIS_SERVER)) {
    process.stderr.write(`row left out: group-digest-w2-redis (no ${REDIS_SERVER})\n`)
    extra.delete('frontW2Redis')
  }
  const clusters = new Set(
    scenarios.filter((s) => chosen.includes(s.name) && isBareCluster(s.server)).map((s) => s.server as BareCluster),
  )
  const { servers, daemons } = await startServers(wantedPeers, extra, clusters)
  for (const why of peers.missing) process.stderr.write(`peer left out: ${why}\n`)
  const picked = scenarios.filter(
    (s) =>
      s.name !== 'bare' &&
      chosen.includes(s.name) &&
      (s.peer === undefined || servers.peers[s.peer] !== undefined) &&
      (!s.server.startsWith('frontW2') || servers[s.server as ExtraFront] !== undefined) &&
      (!isBareCluster(s.server) || servers[s.server] !== undefined),
  )
  const bare: Measurement[] = []
  const runs = new Map<string, Measurement[]>(picked.map((s) => [s.name, []]))
  for (let round = 1; round <= rounds; round++) {
    for (const s of [bareScenario, ...picked]) {
      process.stderr.write(`round ${round}/${rounds}: ${s.name} (${seconds}s)…\n`)
      const m = await measure(s, servers)
      if (s === bareScenario) bare.push(m)
      else runs.get(s.name)?.push(m)
    }
  }
  process.stderr.write(`closing bare run (${seconds}s)…\n`)
  bare.push(await measure(bareScenario, servers))
  const bareByRound = Array.from(
    { length: rounds },
    (_, i) => ((bare[i] as Measurement).result.rps + (bare[i + 1] as Measurement).result.rps) / 2,
  )
  const bareRow = summarizeRuns(
    bareScenario,
    bare,
    bare.map((m) => m.result.rps),
  )
  bareRow.rounds = bare.map((m) => ({ rps: m.result.rps, ratio: m.result.rps / median(bare.map((b) => b.result.rps)) }))
  const rows = [
    bareRow,
    ...picked.map((s) =>
      summarizeRuns(
        s,
        runs.get(s.name) as Measurement[],
        bareByRound,
        s.alsoAgainst ? runs.get(s.alsoAgainst) : undefined,
      ),
    ),
  ]

  const memory = [
    { name: workers > 1 ? `front (${workers} workers and their primary)` : 'front', rss: sumRss(servers.pids.fronts) },
    ...(servers.pids.frontW2.length > 0
      ? [{ name: 'front, workers: 2 (both and their primary)', rss: sumRss(servers.pids.frontW2) }]
      : []),
    ...daemons.map((d) => ({ name: `daemon ${d.group} (pid ${d.pid})`, rss: rssOf(d.pid) })),
  ]
  const bareRss = rssOf(servers.pids.bare)
  let rtt: ProviderCall | undefined
  if (!flags['no-provider-call'] && !flags.profile && !flags.only) {
    process.stderr.write('provider call round trip…\n')
    rtt = await providerCall()
  }
  const targets = targetsOf(rows, rtt)
  const machine = {
    source: flags.source ? 'src' : 'dist',
    nproc: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    loadTool: loadTool(),
    seconds,
    warmup,
    connections,
    rounds,
    processes,
    logLevel: flags['log-level'],
    ...(shareWhenBusy !== undefined ? { shareWhenBusy } : {}),
    ...(slowGroupConcurrency !== undefined ? { slowGroupConcurrency } : {}),
    ...(pythonThreads !== undefined ? { pythonThreads } : {}),
  }
  process.stdout.write(
    `\n${machine.cpu}, ${machine.nproc} CPUs, node ${machine.node}, gatehouse from ${flags.source ? 'src (tsx)' : 'dist'}; ${machine.loadTool} 1 thread, ${connections} connections, ` +
      `${seconds} s per run (+${warmup} s warm-up), ${rounds} round(s); ratios are to bare Fastify in the same round\n\n`,
  )
  process.stdout.write(formatTable(rows, memory, bareRss) + '\n')
  const against = formatPeerPairs(rows)
  if (against) process.stdout.write(`\n${against}\n`)
  const scaling = formatScalePairs(rows)
  if (scaling) process.stdout.write(`\n${scaling}\n`)
  const perProcess = formatPerProcess(rows)
  if (perProcess) process.stdout.write(`\n${perProcess}\n`)
  const notes = formatNotes(rows)
  if (notes) process.stdout.write(`\n${notes}\n`)
  if (rtt) process.stdout.write(`\n${formatProviderCall(rtt, bareRow.rps)}\n`)
  process.stdout.write(`\n${formatTargets(targets)}\n`)
  const budget = formatBudget(rows)
  if (budget) process.stdout.write(`\n${budget}\n`)

  stopPeers(peers)
  await stopAll()
  await redisStop()
  if (flags.profile) for (const p of summarizeProfiles(servers.pids.front, daemons)) process.stdout.write(`\n${p}\n`)
  mkdirSync(dirname(flags.out as string), { recursive: true })
  writeFileSync(
    flags.out as string,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        machine,
        rows,
        peersMissing: peers.missing,
        memory: [...memory, { name: 'bare Fastify', rss: bareRss }],
        providerCall: rtt,
        targets,
      },
      null,
      2,
    ) + '\n',
  )
  process.stdout.write(`\nwritten: ${flags.out}\n`)
}

/** workers: 2 ÷ workers: 1 for each pair whose two rows ran (medians of requests/s and of CPU µs per request). */
function formatScalePairs(rows: Row[]): string {
  const byName = new Map(rows.map((r) => [r.name, r]))
  const lines: string[] = []
  for (const p of scalePairs) {
    const w2 = byName.get(p.w2)
    const w1 = byName.get(p.w1)
    if (w2 === undefined || w1 === undefined) continue
    lines.push(
      `  ${p.what.padEnd(58)} ${(w2.rps / w1.rps).toFixed(2).padStart(5)}× req/s, ${(w2.serverUsPerReq / w1.serverUsPerReq).toFixed(2)}× CPU µs/req  (${p.w2} ÷ ${p.w1})`,
    )
  }
  return lines.length > 0 ? `workers: 2 ÷ workers: 1 (same run):\n${lines.join('\n')}` : ''
}

/** gatehouse ÷ peer, for each pair whose two rows ran (medians of their requests/s). */
function formatPeerPairs(rows: Row[]): string {
  const byName = new Map(rows.map((r) => [r.name, r]))
  const lines: string[] = []
  for (const p of peerPairs) {
    const ours = byName.get(p.ours)
    const theirs = byName.get(p.theirs)
    if (ours === undefined || theirs === undefined) continue
    lines.push(
      `  ${p.what.padEnd(78)} ${(ours.rps / theirs.rps).toFixed(2).padStart(5)}×  (${ours.name} ÷ ${theirs.name})`,
    )
  }
  if (peers.missing.length > 0) lines.push(...peers.missing.map((m) => `  left out: ${m}`))
  return lines.length > 0 ? `against peers (gatehouse ÷ peer, requests/s, same run):\n${lines.join('\n')}` : ''
}

/** Profiles are written when the processes exit; keeps a copy next to the results. */
function summarizeProfiles(frontPid: number, daemons: Daemon[]): string[] {
  const files = readdirSync(profileDir)
  const window =
    windows.length > 0
      ? { fromUs: Math.min(...windows.map((w) => w.fromUs)), toUs: Math.max(...windows.map((w) => w.toUs)) }
      : undefined
  const out: string[] = []
  for (const [title, pid] of [
    ['front', frontPid] as const,
    ...daemons.map((d) => [`daemon ${d.group}`, d.pid] as const),
  ]) {
    const file = files.find((f) => f.includes(`.${pid}.`))
    if (file === undefined) {
      out.push(`${title}: no profile written`)
      continue
    }
    const keep = join(HERE, 'results', `${title.replace(/\s+/g, '-')}.cpuprofile`)
    mkdirSync(dirname(keep), { recursive: true })
    const text = readFileSync(join(profileDir, file), 'utf8')
    writeFileSync(keep, text)
    out.push(formatSummary(`${title} (${keep}), measured runs only`, summarize(JSON.parse(text), 20, window)))
  }
  for (const file of files.filter((f) => f.startsWith('python-') && f.endsWith('.prof'))) {
    const keep = join(HERE, 'results', file)
    writeFileSync(keep, readFileSync(join(profileDir, file)))
    out.push(
      `Python worker ${file} (${keep}; cProfile of every thread, warm-up included):\n${pythonProfileSummary(keep)}`,
    )
  }
  return out
}

/** The top of a Python worker's cProfile statistics, by time spent in each function itself. */
function pythonProfileSummary(file: string): string {
  const script = 'import pstats, sys; pstats.Stats(sys.argv[1]).sort_stats("tottime").print_stats(25)'
  try {
    return execFileSync('/usr/bin/python3', ['-c', script, file], { encoding: 'utf8', timeout: 30_000 })
      .split('\n')
      .filter((l) => l.trim() !== '')
      .slice(3)
      .join('\n')
  } catch (err) {
    return `(pstats failed: ${(err as Error).message})`
  }
}

try {
  await main()
} finally {
  stopPeers(peers)
  await stopAll()
  await redisStop()
  rmSync(work, { recursive: true, force: true })
}
