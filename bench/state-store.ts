/**
 * The cost of `state.redis` against the in-process state, in one run: two gatehouse fronts with
 * the same configuration but for `state`, one of them on a private redis-server (a unix socket
 * in a temporary directory), driven alternately by the same clients, round after round.
 *   node --import tsx bench/state-store.ts [--seconds 5] [--rounds 3] [--connections 32] [--source] [--no-build]
 * Rows: Basic (cache hit) in front of an HTTP upstream, and Digest SHA-256 (a fresh nc each
 * request, HA1 cached) in front of a daemon group. For each: requests/s, the front's CPU µs per
 * request (/proc: less disturbed by the other load on the machine than requests/s), Redis
 * round trips per request (INFO commandstats: a cache hit must send none) and redis-server's CPU
 * µs per request. The ratios are Redis ÷ built-in of the same round; medians over the rounds.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { spawn } from 'node:child_process'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import { runLoad, type LoadResult } from './lib/load.js'
import { TSX_ARGS, resolveJson, startProcess, stopAll } from './lib/processes.js'
import { cpuTimeUs } from './lib/cpu.js'
import { buildDist } from './lib/build.js'
import { startRedis } from './lib/redis.js'
import { DIGEST_SECRET, REALM } from './servers/front.js'

const HERE = dirname(fileURLToPath(import.meta.url))
const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
    source: { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
  },
})
const seconds = Number(flags.seconds)
const rounds = Number(flags.rounds)
const connections = Number(flags.connections)
const BASIC = { authorization: `Basic ${Buffer.from('bench:bench').toString('base64')}` }

function frontConfig(upstream: string, state?: string): unknown {
  const basic = { scheme: 'basic', realm: REALM, provider: 'accounts' }
  return {
    listen: { host: '127.0.0.1', port: 0 },
    groups: {
      hello: { app: 'apps/hello.mjs', processes: 1 },
      accounts: { app: 'apps/hello.mjs', provider: 'apps/provider.mjs', processes: 1 },
    },
    routes: [
      { path: '/up', upstream, auth: basic },
      {
        path: '/group-digest',
        group: 'hello',
        auth: { scheme: 'digest', realm: REALM, provider: 'accounts', algorithms: ['SHA-256'] },
      },
    ],
    digest: { secret: DIGEST_SECRET },
    // Every connection is one client address here: the in-flight budget must exceed the
    // connections, or Digest requests overlapping a Redis round trip would be refused as busy.
    throttle: { perAddress: { maxFailures: connections * 2 } },
    log: { level: 'warn' },
    ...(state ? { state: { redis: state, prefix: 'gatehouse:bench:' } } : {}),
  }
}

function digestLoad(url: string): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...TSX_ARGS, join(HERE, 'lib', 'digest-client.ts'), url, String(seconds), String(connections), 'bench', 'bench'],
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

/**
 * Commands gatehouse sent (round trips): its scripts (EVALSHA, or EVAL the first time) and the
 * SET and PUBLISH it sends itself; the commands a script runs inside Redis are not round trips.
 */
async function redisRoundTrips(client: Redis): Promise<number> {
  let n = 0
  for (const m of (await client.info('commandstats')).matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm))
    if (['eval', 'evalsha', 'set', 'publish'].includes(m[1] as string)) n += Number(m[2])
  return n
}

interface Sample {
  rps: number
  frontUs: number
  redisCmds: number
  redisUs: number
  errors: number
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

async function main(): Promise<void> {
  if (!flags.source && !flags['no-build']) buildDist()
  const dir = mkdtempSync(join(tmpdir(), 'gh-bench-state-'))
  const redis = await startRedis(dir)
  try {
    const upstream = await startProcess<{ url: string }>(TSX_ARGS, join(HERE, 'servers', 'upstream.ts'), [], {
      readyStream: 'stdout',
    })
    const start = (state?: string) =>
      startProcess<{ url: string }>(
        TSX_ARGS,
        join(HERE, 'servers', 'front.ts'),
        [JSON.stringify({ config: frontConfig(upstream.ready.url, state), source: flags.source })],
        { readyStream: 'stderr', prefix: 'BENCH-READY ' },
      )
    const fronts = { builtin: await start(), redis: await start(redis.url) }
    const rows = [
      {
        name: 'upstream-basic',
        label: 'gatehouse → upstream, Basic (cache hit)',
        run: (url: string) => runLoad({ url: new URL('/up', url).href, seconds, connections, headers: BASIC }),
      },
      {
        name: 'group-digest',
        label: 'gatehouse → daemon group, Digest SHA-256 (fresh nc)',
        run: (url: string) => digestLoad(new URL('/group-digest', url).href),
      },
    ]
    const samples = new Map<string, Sample[]>()
    for (let round = 0; round < rounds; round++) {
      for (const row of rows) {
        // Alternate which store goes first, so neither always gets the quieter half of the round.
        const order = round % 2 === 0 ? (['builtin', 'redis'] as const) : (['redis', 'builtin'] as const)
        for (const store of order) {
          const front = fronts[store]
          if (round === 0) await row.run(front.ready.url) // warm-up
          const cpu0 = cpuTimeUs(front.pid)
          const redisCpu0 = cpuTimeUs(redis.child.pid as number)
          const cmds0 = await redisRoundTrips(redis.client)
          const r = await row.run(front.ready.url)
          const requests = Math.max(r.requests, 1)
          const sample: Sample = {
            rps: r.rps,
            frontUs: (cpuTimeUs(front.pid) - cpu0) / requests,
            redisCmds: ((await redisRoundTrips(redis.client)) - cmds0) / requests,
            redisUs: (cpuTimeUs(redis.child.pid as number) - redisCpu0) / requests,
            errors: r.non2xx + r.errors,
          }
          const key = `${row.name}/${store}`
          samples.set(key, [...(samples.get(key) ?? []), sample])
        }
      }
    }
    const out: Record<string, unknown> = {}
    process.stdout.write(`\n${rounds} rounds × ${seconds} s, ${connections} connections\n`)
    process.stdout.write(
      'row                                                   store     req/s   front µs/req  Redis trips/req redis-server µs/req  errors\n',
    )
    for (const row of rows) {
      for (const store of ['builtin', 'redis'] as const) {
        const s = samples.get(`${row.name}/${store}`) as Sample[]
        const m = {
          rps: median(s.map((x) => x.rps)),
          frontUs: median(s.map((x) => x.frontUs)),
          redisCmds: median(s.map((x) => x.redisCmds)),
          redisUs: median(s.map((x) => x.redisUs)),
          errors: s.reduce((a, x) => a + x.errors, 0),
        }
        out[`${row.name}/${store}`] = m
        process.stdout.write(
          `${row.label.padEnd(54)}${store.padEnd(9)}${m.rps.toFixed(0).padStart(6)}${m.frontUs.toFixed(0).padStart(15)}${m.redisCmds.toFixed(2).padStart(16)}${m.redisUs.toFixed(1).padStart(21)}${String(m.errors).padStart(8)}\n`,
        )
      }
      const b = samples.get(`${row.name}/builtin`) as Sample[]
      const r = samples.get(`${row.name}/redis`) as Sample[]
      const rpsRatio = median(r.map((x, i) => x.rps / (b[i] as Sample).rps))
      const cpuRatio = median(r.map((x, i) => x.frontUs / (b[i] as Sample).frontUs))
      out[`${row.name}/ratio`] = { rps: rpsRatio, frontUs: cpuRatio }
      process.stdout.write(
        `${''.padEnd(54)}redis ÷ built-in, same round: req/s ${rpsRatio.toFixed(2)}, front CPU/req ${cpuRatio.toFixed(2)}\n`,
      )
    }
    process.stdout.write(`${JSON.stringify(out)}\n`)
  } finally {
    redis.client.disconnect()
    await stopAll()
    redis.child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
