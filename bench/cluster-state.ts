/**
 * What the front workers' state held in the primary costs a Digest request, against the state in
 * process, in one run: two front workers with the same configuration (a Digest MD5 route over an
 * htdigest file, HA1 cached after the first request, in front of an HTTP upstream), one keeping
 * its state in process, the other a ClusterState over its IPC pipe to this process, which plays
 * the primary with a StateHost. The same Digest client (bench/lib/digest-client.ts, a fresh nc
 * per request) drives them alternately, round after round.
 *   node --import tsx bench/cluster-state.ts [--seconds 5] [--rounds 3] [--connections 16] [--rate 400]
 * Both are driven at the same rate (requests/s; 0: as fast as answered): a front answering fewer
 * requests per second batches less per event-loop turn and pays more per request, so CPU per
 * request compares fairly only at the same rate.
 * A third worker keeps its nonce counts in process and asks the primary for the throttle only:
 * the best a design where each worker owns the nonces it issued could do.
 * For each: requests/s, the worker's CPU µs per request (/proc), the messages it sent the primary
 * per request, and the primary's CPU µs per request (process.cpuUsage of this process, which does
 * nothing else during a run). Ratios are primary-held ÷ in-process of the same round; medians
 * over the rounds. The fronts run from src/ through tsx (both alike).
 */
import { fork, spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Channel } from '../src/cluster/channel.js'
import { StateHost } from '../src/cluster/state-host.js'
import { createLogger } from '../src/log.js'
import type { LoadResult } from './lib/load.js'
import { TSX_ARGS, resolveJson, startProcess, stopAll, stopProcess } from './lib/processes.js'
import { cpuTimeUs } from './lib/cpu.js'

const HERE = dirname(fileURLToPath(import.meta.url))
const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '16' },
    rate: { type: 'string', default: '400' },
  },
})
const seconds = Number(flags.seconds)
const rounds = Number(flags.rounds)
const connections = Number(flags.connections)
const rate = Number(flags.rate)
const REALM = 'Bench'

function frontConfig(upstream: string): Record<string, unknown> {
  return {
    listen: { host: '127.0.0.1', port: 0 },
    providers: { hashes: { type: 'htdigest', file: './users.htdigest', threads: 1 } },
    routes: [{ path: '/digest', upstream, auth: { scheme: 'digest', realm: REALM, provider: 'hashes' } }],
    digest: { secret: 'bench-digest-secret-0123456789' },
    // One client address: the in-flight budget must exceed the connections.
    throttle: { perAddress: { maxFailures: connections * 2 } },
    log: { level: 'warn' },
  }
}

interface Worker {
  child: ChildProcess
  url: string
  /** Messages the worker sent this process so far. */
  messages(): number
}

async function startWorker(
  host: StateHost,
  config: unknown,
  dir: string,
  cluster: boolean,
  localNonces = false,
): Promise<Worker> {
  const spec = JSON.stringify({ config, baseDir: dir, cluster, localNonces })
  const child = fork(join(HERE, 'servers', 'cluster-front.ts'), [spec], {
    execArgv: TSX_ARGS,
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  })
  let messages = 0
  child.on('message', () => messages++)
  if (cluster) host.attach(new Channel(child))
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString()
      const line = out.split('\n').find((l) => l.startsWith('BENCH-READY '))
      if (line !== undefined) resolve((JSON.parse(line.slice(12)) as { url: string }).url)
    })
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)))
  })
  return { child, url, messages: () => messages }
}

function digestLoad(url: string): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        ...TSX_ARGS,
        join(HERE, 'lib', 'digest-client.ts'),
        url,
        String(seconds),
        String(connections),
        'bench',
        'bench',
        'digest',
        String(rate),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    let out = ''
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString()
    })
    child.once('error', reject)
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`digest client exited with ${code}`))
      resolveJson<Omit<LoadResult, 'tool'>>(
        out,
        'digest client',
        (r) => resolve({ tool: 'digest-client', ...r }),
        reject,
      )
    })
  })
}

interface Sample {
  rps: number
  workerUs: number
  messages: number
  primaryUs: number
  errors: number
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

const ownCpuUs = (): number => {
  const u = process.cpuUsage()
  return u.user + u.system
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gh-bench-cluster-'))
  const ha1 = createHash('md5').update(`bench:${REALM}:bench`).digest('hex')
  writeFileSync(join(dir, 'users.htdigest'), `bench:${REALM}:${ha1}\n`)
  const host = new StateHost({
    log: createLogger('warn'),
    throttle: { maxEntries: 100_000, maxLockoutMs: 3_600_000 },
    nonceTtlMs: 300_000,
  })
  const workers: Worker[] = []
  try {
    const upstream = await startProcess<{ url: string }>(TSX_ARGS, join(HERE, 'servers', 'upstream.ts'), [], {
      readyStream: 'stdout',
    })
    const config = frontConfig(upstream.ready.url)
    const fronts = {
      'in-process': await startWorker(host, config, dir, false),
      primary: await startWorker(host, config, dir, true),
      'nonces-local': await startWorker(host, config, dir, true, true),
    }
    workers.push(...Object.values(fronts))
    const samples = new Map<string, Sample[]>()
    for (let round = 0; round < rounds; round++) {
      const names = ['in-process', 'primary', 'nonces-local'] as const
      // Rotate which goes first, so none always gets the quieter part of the round.
      const order = names.map((_, i) => names[(i + round) % names.length] as (typeof names)[number])
      for (const where of order) {
        const w = fronts[where]
        const url = new URL('/digest', w.url).href
        if (round === 0) await digestLoad(url) // warm-up
        const cpu0 = cpuTimeUs(w.child.pid as number)
        const own0 = ownCpuUs()
        const msg0 = w.messages()
        const r = await digestLoad(url)
        const requests = Math.max(r.requests, 1)
        const sample: Sample = {
          rps: r.rps,
          workerUs: (cpuTimeUs(w.child.pid as number) - cpu0) / requests,
          messages: (w.messages() - msg0) / requests,
          primaryUs: (ownCpuUs() - own0) / requests,
          errors: r.non2xx + r.errors,
        }
        samples.set(where, [...(samples.get(where) ?? []), sample])
      }
    }
    const out: Record<string, unknown> = {}
    process.stdout.write(
      `\n${rounds} rounds × ${seconds} s, ${connections} connections, ${rate > 0 ? `${rate} requests/s` : 'unpaced'}, Digest MD5 (fresh nc)\n`,
    )
    process.stdout.write('state         req/s  worker µs/req  messages/req  primary µs/req  errors\n')
    for (const where of ['in-process', 'primary', 'nonces-local'] as const) {
      const s = samples.get(where) as Sample[]
      const m = {
        rps: median(s.map((x) => x.rps)),
        workerUs: median(s.map((x) => x.workerUs)),
        messages: median(s.map((x) => x.messages)),
        primaryUs: median(s.map((x) => x.primaryUs)),
        errors: s.reduce((a, x) => a + x.errors, 0),
      }
      out[where] = m
      process.stdout.write(
        `${where.padEnd(12)}${m.rps.toFixed(0).padStart(7)}${m.workerUs.toFixed(0).padStart(15)}${m.messages.toFixed(2).padStart(14)}${m.primaryUs.toFixed(1).padStart(16)}${String(m.errors).padStart(8)}\n`,
      )
    }
    const b = samples.get('in-process') as Sample[]
    for (const where of ['primary', 'nonces-local'] as const) {
      const p = samples.get(where) as Sample[]
      const ratio = {
        rps: median(p.map((x, i) => x.rps / (b[i] as Sample).rps)),
        workerUs: median(p.map((x, i) => x.workerUs / (b[i] as Sample).workerUs)),
        workerExtraUs: median(p.map((x, i) => x.workerUs - (b[i] as Sample).workerUs)),
      }
      out[`${where}/ratio`] = ratio
      process.stdout.write(
        `${where} ÷ in-process, same round: req/s ${ratio.rps.toFixed(2)}, worker CPU/req ${ratio.workerUs.toFixed(2)} (${ratio.workerExtraUs.toFixed(0)} µs more)\n`,
      )
    }
    process.stdout.write(`${JSON.stringify(out)}\n`)
  } finally {
    await Promise.all(workers.map((w) => stopProcess(w.child)))
    await stopAll()
    host.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
