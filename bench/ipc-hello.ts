/**
 * Hello world, bare vs through a daemon group: requests/s of a bare Fastify server, and of a
 * Fastify front forwarding through GroupTarget to a one-process daemon group (no auth), with
 * autocannon (32 connections, 5 s each), the ratio, and the front's and daemon's memory.
 *   node --import tsx bench/ipc-hello.ts [seconds]
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import { pino } from 'pino'
import { Supervisor } from '../src/daemon/supervisor.js'
import { GroupTarget } from '../src/proxy/group-target.js'

const seconds = Number(process.argv[2] ?? 5)
const AUTOCANNON = join(dirname(createRequire(import.meta.url).resolve('autocannon/package.json')), 'autocannon.js')
const app = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'test', 'fixtures', 'apps', 'multi.ts')

/** autocannon runs in its own process, so the load generator does not share the front's event loop. */
async function measure(url: string): Promise<number> {
  await cannon(url, 1) // warm-up
  const result = await cannon(url, seconds)
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`)
  return result.requests.average
}

async function cannon(url: string, duration: number): Promise<{ non2xx: number; errors: number; requests: { average: number } }> {
  const child = spawn(process.execPath, [AUTOCANNON, '-c', '32', '-d', String(duration), '-j', url], { stdio: ['ignore', 'pipe', 'ignore'] })
  let out = ''
  child.stdout.on('data', (c: Buffer) => { out += c.toString() })
  await once(child, 'exit')
  return JSON.parse(out)
}

function rssOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))
  return Number(line?.replace(/\D+/g, '') ?? 0) * 1024
}

const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(0)} MB`

const bare = Fastify()
bare.get('/', async () => 'hello')
const bareUrl = await bare.listen({ host: '127.0.0.1', port: 0 })
const bareRps = await measure(bareUrl)
await bare.close()

const sup = new Supervisor({
  log: pino({ level: 'warn' }),
  groups: [{
    name: 'hello', app, processes: 1, concurrency: 64, cwd: join(app, '..'), env: {}, execArgv: [],
    maxRequests: 0, requestTimeoutMs: 30_000, gracefulTimeoutMs: 1_000, inactivityTimeoutMs: 0, queueTimeoutMs: 5_000,
    reloadOn: [], fileRoots: [],
  }],
})
await sup.start()
const target = new GroupTarget(sup.group('hello'))
const front = Fastify()
front.get('/*', async (req, reply) => {
  await target.forward({ method: req.method, url: req.url, headers: req.headers as Record<string, string>, body: null, remoteAddress: req.ip }, reply)
  return reply
})
const frontUrl = await front.listen({ host: '127.0.0.1', port: 0 })
const groupRps = await measure(frontUrl)
const daemonPid = sup.status()[0]?.processes[0]?.pid ?? 0
const memory = { front: process.memoryUsage().rss, daemon: rssOf(daemonPid) }
await front.close()
await sup.close()

console.log(`bare Fastify hello            ${bareRps.toFixed(0).padStart(8)} req/s`)
console.log(`Fastify → GroupTarget → daemon ${groupRps.toFixed(0).padStart(8)} req/s  (${((groupRps / bareRps) * 100).toFixed(0)}% of bare)`)
console.log(`memory: front ${mb(memory.front)}, daemon ${mb(memory.daemon)}`)
