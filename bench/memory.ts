/**
 * Where the front's memory goes: `gatehouse start` (from dist/) with one htpasswd provider and one
 * upstream route, as getting-started.md configures it. Prints VmRSS / VmHWM of each stage, each
 * measured in a process of its own: bare node, node after importing the npm packages, after
 * importing gatehouse, the front after listen, after its first login, and the front with 1, 2
 * and 4 provider threads after logins that kept every thread busy.
 *
 *   node --import tsx bench/memory.ts [--no-build] [--rounds N]
 *
 * With `--workers`, the same gatehouse with `workers: 1`, `2` and `4` instead, after 12 logins:
 * each process's RSS and anonymous pages, the machine's memory (anonymous pages summed, each
 * file's pages such as the node binary's counted once) and summed RSS, and the ratio of each
 * to `workers: 1` (docs/scaling.md, Memory).
 *
 *   node --import tsx bench/memory.ts --workers [--no-build] [--rounds N] [--settle S]
 *
 * `--settle S` reads the processes again after S seconds without requests: V8's memory reducer
 * gives back young-generation and heap slack some 10–40 s after a process falls idle.
 *
 * RSS moves by a few MB between runs (GC timing); each figure is the median of the rounds.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, request, type Server } from 'node:http'
import { createServer as createNetServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import bcrypt from 'bcryptjs'
import { buildDist } from './lib/build.js'
import { childPids, machineMemory, processMemory, type ProcessMemory } from './lib/proc-memory.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const USER = 'alice'
const PASSWORD = 'memory-bench-password'

interface Mem {
  rss: number
  hwm: number
  threads: number
}

function readMem(pid: number): Mem {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN)
  const threads = Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? NaN)
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024, threads }
}

/** RSS of a node process that runs `code` (awaited) and then idles (after a GC, as the front would be). */
function nodeRss(code: string): Mem {
  const script = `(async () => { ${code} })().then(() => { globalThis.gc?.(); setTimeout(() => { process.stdout.write(require('node:fs').readFileSync('/proc/self/status', 'utf8')) }, 300) })`
  const out = spawnSync(process.execPath, ['--expose-gc', '--input-type=commonjs', '-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
  })
  if (out.status !== 0) throw new Error(`node -e failed: ${out.stderr}`)
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(out.stdout)?.[1] ?? NaN)
  return {
    rss: kb('VmRSS') / 1024,
    hwm: kb('VmHWM') / 1024,
    threads: Number(/^Threads:\s+(\d+)/m.exec(out.stdout)?.[1]),
  }
}

async function freePort(): Promise<number> {
  const srv = createNetServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as { port: number }).port
  await new Promise((r) => srv.close(r))
  return port
}

function get(port: number, auth: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/', headers: auth === undefined ? {} : { authorization: auth } },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      },
    )
    req.on('error', reject)
    req.end()
  })
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Logins with distinct wrong passwords: none is cached, so each one is a bcrypt check in a thread. */
const basic = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`

interface FrontRun {
  listen: Mem
  login: Mem
  busy: Mem
}

async function startGatehouse(
  dir: string,
  upstreamPort: number,
  name: string,
  provider: string,
  extra: string[],
): Promise<{ child: ChildProcess; port: number; stop: () => Promise<void> }> {
  const port = await freePort()
  const config = join(dir, `gatehouse-${name}.yaml`)
  await writeFile(
    config,
    [
      ...extra,
      `listen: { host: 127.0.0.1, port: ${port} }`,
      `providers:`,
      `  office: ${provider}`,
      `routes:`,
      `  - path: /`,
      `    upstream: http://127.0.0.1:${upstreamPort}`,
      `    auth: { scheme: basic, realm: Office, provider: office }`,
      '',
    ].join('\n'),
  )
  const child: ChildProcess = spawn(
    process.execPath,
    [join(ROOT, 'bin', 'gatehouse.js'), 'start', '--config', config],
    {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  )
  let stderr = ''
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()))
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await new Promise((r) =>
      child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once('exit', r),
    )
  }
  try {
    const deadline = Date.now() + 20_000
    for (;;) {
      if (child.exitCode !== null) throw new Error(`gatehouse start exited: ${stderr}`)
      const status = await get(port, undefined).catch(() => 0)
      if (status === 401) break
      if (Date.now() > deadline) throw new Error(`gatehouse did not listen: ${stderr}`)
      await sleep(50)
    }
  } catch (err) {
    await stop()
    throw err
  }
  return { child, port, stop }
}

async function runFront(dir: string, upstreamPort: number, threads: number | undefined): Promise<FrontRun> {
  const provider = `{ type: htpasswd, file: ./users.htpasswd${threads === undefined ? '' : `, threads: ${threads}`} }`
  const { child, port, stop } = await startGatehouse(dir, upstreamPort, `threads-${threads ?? 'default'}`, provider, [])
  try {
    await sleep(500)
    const pid = child.pid as number
    const listen = readMem(pid)
    const ok = await get(port, basic(USER, PASSWORD))
    if (ok !== 200) throw new Error(`the login answered ${ok}`)
    await sleep(500)
    const login = readMem(pid)
    // Enough logins at once to keep every thread the provider may have busy.
    const statuses = await Promise.all(Array.from({ length: 8 }, (_, i) => get(port, basic(USER, `wrong-${i}`))))
    if (statuses.some((s) => s !== 401)) throw new Error(`wrong passwords answered ${statuses.join(' ')}`)
    await sleep(500)
    return { listen, login, busy: readMem(pid) }
  } finally {
    await stop()
  }
}

interface WorkersReading {
  primary: ProcessMemory
  workers: ProcessMemory[]
  total: number
  rssSum: number
  shared: number
}

interface WorkersRun {
  busy: WorkersReading
  settled: WorkersReading | undefined
}

function readWorkers(pid: number, n: number): WorkersReading {
  // With workers: 1 the front is the gatehouse process; otherwise its node children are the workers.
  const workerPids = n === 1 ? [] : childPids(pid)
  if (n > 1 && workerPids.length !== n) throw new Error(`expected ${n} workers, found ${workerPids.join(' ')}`)
  const primary = processMemory(pid)
  const workers = workerPids.map(processMemory)
  return { primary, workers, ...machineMemory([primary, ...workers]) }
}

/**
 * `workers: n` after 12 logins one after the other, each on a connection of its own so that the
 * workers share them (each worker's first asks the provider, the others hit its cache).
 */
async function runWorkers(dir: string, upstreamPort: number, n: number, settleS: number): Promise<WorkersRun> {
  const { child, port, stop } = await startGatehouse(
    dir,
    upstreamPort,
    `workers-${n}`,
    '{ type: htpasswd, file: ./users.htpasswd }',
    [`workers: ${n}`],
  )
  try {
    for (let i = 0; i < 12; i++) {
      const status = await get(port, basic(USER, PASSWORD))
      if (status !== 200) throw new Error(`login ${i + 1} answered ${status}`)
    }
    await sleep(1000)
    const pid = child.pid as number
    const busy = readWorkers(pid, n)
    if (settleS <= 0) return { busy, settled: undefined }
    await sleep(settleS * 1000)
    return { busy, settled: readWorkers(pid, n) }
  } finally {
    await stop()
  }
}

async function workersMain(dir: string, upstreamPort: number, rounds: number, settleS: number): Promise<void> {
  const runs = new Map<number, WorkersRun[]>()
  for (let r = 0; r < rounds; r++)
    for (const n of [1, 2, 4]) {
      const list = runs.get(n) ?? []
      list.push(await runWorkers(dir, upstreamPort, n, settleS))
      runs.set(n, list)
    }
  const report = (title: string, pick: (r: WorkersRun) => WorkersReading | undefined): void => {
    const readings = new Map([...runs].map(([n, list]) => [n, list.flatMap((r) => pick(r) ?? [])]))
    const one = readings.get(1) ?? []
    if (one.length === 0) return
    const base = median(one.map((r) => r.total))
    const baseRss = median(one.map((r) => r.rssSum))
    process.stdout.write(
      `${title} (median of ${rounds} round(s)); own = anonymous pages, memory = own summed + file pages counted once\n`,
    )
    for (const [n, list] of readings) {
      const total = median(list.map((r) => r.total))
      const rssSum = median(list.map((r) => r.rssSum))
      const workerOwn = list.flatMap((r) => r.workers.map((w) => w.anonymous))
      const workerRss = list.flatMap((r) => r.workers.map((w) => w.rss))
      process.stdout.write(
        `  workers: ${n}  memory ${mb(total)} (${(total / base).toFixed(2)}x)  RSS summed ${mb(rssSum)} (${(rssSum / baseRss).toFixed(2)}x)  file pages ${mb(median(list.map((r) => r.shared)))}\n`,
      )
      process.stdout.write(
        `    ${n === 1 ? 'front      ' : 'primary    '}  own ${mb(median(list.map((r) => r.primary.anonymous)))}  RSS ${mb(median(list.map((r) => r.primary.rss)))}\n`,
      )
      if (workerOwn.length > 0)
        process.stdout.write(
          `    each worker  own ${mb(median(workerOwn))} (${mb(Math.min(...workerOwn))} to ${mb(Math.max(...workerOwn))})  RSS ${mb(median(workerRss))}\n`,
        )
    }
  }
  report('memory with front workers, 1 s after 12 logins', (r) => r.busy)
  report(`the same after ${settleS} s without requests`, (r) => r.settled)
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}
const mb = (n: number): string => `${n.toFixed(1).padStart(6)} MB`

async function main(): Promise<void> {
  const args = process.argv.slice(2)
  const rounds = Number(args[args.indexOf('--rounds') + 1] ?? 1) || 1
  if (!args.includes('--no-build')) buildDist()
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-memory-'))
  await writeFile(join(dir, 'users.htpasswd'), `${USER}:${bcrypt.hashSync(PASSWORD, 10)}\n`)
  const upstream: Server = createServer((_req, res) => res.end('hello\n'))
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r))
  const upstreamPort = (upstream.address() as { port: number }).port
  if (args.includes('--workers')) {
    try {
      const settle = args.includes('--settle') ? Number(args[args.indexOf('--settle') + 1]) : 0
      await workersMain(dir, upstreamPort, rounds, settle)
    } finally {
      upstream.close()
      await rm(dir, { recursive: true, force: true })
    }
    return
  }
  const index = join(ROOT, 'dist', 'src', 'index.js')
  const stages: Array<[string, string]> = [
    ['node, nothing imported', ''],
    ['+ fastify', "require('fastify')"],
    ['+ pino, prom-client, ajv, yaml', "for (const m of ['fastify','pino','prom-client','ajv','yaml']) require(m)"],
    ['+ undici', "for (const m of ['fastify','pino','prom-client','ajv','yaml','undici']) require(m)"],
    [
      '+ better-sqlite3, bcryptjs',
      "for (const m of ['fastify','pino','prom-client','ajv','yaml','undici','better-sqlite3','bcryptjs']) require(m)",
    ],
    ['gatehouse imported (dist/src/index.js)', `await import(${JSON.stringify(index)})`],
  ]
  const rows: Array<[string, number[], number[]]> = stages.map(([name]) => [name, [], []])
  const fronts = new Map<string, FrontRun[]>()
  try {
    for (let r = 0; r < rounds; r++) {
      stages.forEach(([, code], i) => {
        const m = nodeRss(code)
        rows[i]?.[1].push(m.rss)
        rows[i]?.[2].push(m.hwm)
      })
      for (const threads of [undefined, 1, 2, 4]) {
        const key = threads === undefined ? 'default' : String(threads)
        const list = fronts.get(key) ?? []
        list.push(await runFront(dir, upstreamPort, threads))
        fronts.set(key, list)
      }
    }
  } finally {
    upstream.close()
    await rm(dir, { recursive: true, force: true })
  }
  process.stdout.write(`memory of the front (median of ${rounds} round(s)); RSS, peak RSS (VmHWM)\n`)
  for (const [name, rss, hwm] of rows)
    process.stdout.write(`  ${name.padEnd(44)} ${mb(median(rss))}  peak ${mb(median(hwm))}\n`)
  for (const [key, runs] of fronts) {
    const label = key === 'default' ? 'threads default' : `threads: ${key}`
    const pick = (f: (r: FrontRun) => Mem): Mem => ({
      rss: median(runs.map((r) => f(r).rss)),
      hwm: median(runs.map((r) => f(r).hwm)),
      threads: median(runs.map((r) => f(r).threads)),
    })
    for (const [stage, m] of [
      ['after listen', pick((r) => r.listen)],
      ['after first login', pick((r) => r.login)],
      ['after 8 logins at once', pick((r) => r.busy)],
    ] as const)
      process.stdout.write(
        `  front, ${label.padEnd(16)} ${stage.padEnd(22)} ${mb(m.rss)}  peak ${mb(m.hwm)}  (${m.threads} OS threads)\n`,
      )
  }
}

await main()
