/**
 * What the benchmark measures, one entry per row. Each scenario runs one load against one of
 * the servers; its ratio is to the bare Fastify figure,
 * and `alsoAgainst` names another row it is compared with too.
 * Issue 7's full benchmark added the cache-miss row and the slow-logins row (bench/lib/slow-load.ts);
 * the provider round trip is a section of its own (bench/provider-call.ts).
 */
import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runLoad, type LoadResult } from './lib/load.js'
import { TSX_ARGS, resolveJson } from './lib/processes.js'
import { withSlowLogins } from './lib/slow-load.js'

export interface Servers {
  bare: string
  upstream: string
  front: string
  floor: string
  pids: { bare: number; upstream: number; front: number; daemons: number[]; floor: number; floorDaemon: number }
}

export interface RunContext {
  servers: Servers
  seconds: number
  connections: number
}

export interface Scenario {
  name: string
  label: string
  /** The process that answers, whose CPU time per request is reported. */
  server: 'bare' | 'upstream' | 'front' | 'floor'
  /** Another row this one is also compared with (printed after the errors column). */
  alsoAgainst?: string
  /** false: no warm-up run before the measured one (a run that is costly to set up and tear down). */
  warmup?: boolean
  run(ctx: RunContext): Promise<LoadResult>
}

const BASIC = { authorization: `Basic ${Buffer.from('bench:bench').toString('base64')}` }
const HERE = dirname(fileURLToPath(import.meta.url))

const front = (ctx: RunContext, path: string): string => new URL(path, ctx.servers.front).href

export const scenarios: Scenario[] = [
  { name: 'bare', server: 'bare', label: 'bare Fastify hello', run: (c) => runLoad({ ...c, url: c.servers.bare }) },
  { name: 'upstream-direct', server: 'upstream', label: 'node:http upstream hello, direct', run: (c) => runLoad({ ...c, url: c.servers.upstream }) },
  {
    name: 'upstream-basic', server: 'front', label: 'gatehouse → upstream, Basic (cache hit)', alsoAgainst: 'upstream-direct',
    run: (c) => runLoad({ ...c, url: front(c, '/up'), headers: BASIC }),
  },
  // What any front + daemon design costs here (bench/servers/floor.ts): the ceiling of the group rows.
  { name: 'floor', server: 'floor', label: 'two-process floor (node:http ↔ unix socket ↔ daemon, no work)', run: (c) => runLoad({ ...c, url: c.servers.floor }) },
  { name: 'group', server: 'front', label: 'gatehouse → daemon group, no auth', run: (c) => runLoad({ ...c, url: front(c, '/group') }) },
  { name: 'group-basic', server: 'front', label: 'gatehouse → daemon group, Basic (cache hit)', run: (c) => runLoad({ ...c, url: front(c, '/group-basic'), headers: BASIC }) },
  {
    name: 'group-basic-miss', server: 'front', label: 'gatehouse → daemon group, Basic (cache miss, cheap provider)', alsoAgainst: 'group-basic',
    run: (c) => runLoad({ ...c, url: front(c, '/group-basic-miss'), headers: BASIC }),
  },
  { name: 'group-digest', server: 'front', label: 'gatehouse → daemon group, Digest SHA-256 (node client)', run: (c) => digestLoad(front(c, '/group-digest'), c) },
  // Last: the logins still queued when it ends keep the front's provider threads busy until
  // they drain (withSlowLogins waits for that, so the next run starts on a quiet front).
  {
    name: 'group-basic-slow', server: 'front', label: 'gatehouse → daemon group, Basic (cache hit), 100 slow logins', alsoAgainst: 'group-basic', warmup: false,
    run: (c) => withSlowLogins({ url: front(c, '/slow'), quietPids: [c.servers.pids.front] }, () => runLoad({ ...c, url: front(c, '/group-basic'), headers: BASIC })),
  },
  // The same with the logins answered by a daemon group's provider (scrypt in the group's
  // process, the demo's shape): not paced by shareWhenBusy, which is for provider threads.
  {
    name: 'group-basic-slow-group', server: 'front', label: 'gatehouse → daemon group, Basic (cache hit), 100 slow group logins', alsoAgainst: 'group-basic', warmup: false,
    run: (c) => withSlowLogins({ url: front(c, '/slow-group'), quietPids: [c.servers.pids.front, ...c.servers.pids.daemons] }, () => runLoad({ ...c, url: front(c, '/group-basic'), headers: BASIC })),
  },
]

/** Digest needs a client computing each request: bench/lib/digest-client.ts, in its own process. */
function digestLoad(url: string, ctx: RunContext): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...TSX_ARGS, join(HERE, 'lib', 'digest-client.ts'), url, String(ctx.seconds), String(ctx.connections), 'bench', 'bench'], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (c: Buffer) => { out += c.toString() })
    const timer = setTimeout(() => process.kill(child.pid as number, 'SIGKILL'), (ctx.seconds + 30) * 1000)
    child.once('error', reject)
    child.once('exit', (code) => {
      clearTimeout(timer)
      if (code !== 0) return reject(new Error(`digest client exited with ${code}`))
      resolveJson<Omit<LoadResult, 'tool'>>(out, 'digest client', (r) => resolve({ tool: 'digest-client', ...r }), reject)
    })
  })
}
