/**
 * The load generator, always in a process of its own: wrk (1 thread, N connections) when
 * /usr/bin/wrk exists, else autocannon's CLI. Returns requests/s and the error counts; a run
 * with any non-2xx answer or socket error is reported, not silently averaged in.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

export interface LoadOptions {
  url: string
  seconds: number
  connections: number
  headers?: Record<string, string>
}

export interface LoadResult {
  tool: 'wrk' | 'autocannon' | 'digest-client'
  rps: number
  requests: number
  non2xx: number
  errors: number
  p50ms?: number
  p99ms?: number
  /** What else happened during the run, printed under the table (e.g. the slow logins answered). */
  note?: string
}

const WRK = '/usr/bin/wrk'

export function loadTool(): 'wrk' | 'autocannon' {
  return existsSync(WRK) ? 'wrk' : 'autocannon'
}

export function runLoad(opts: LoadOptions): Promise<LoadResult> {
  return loadTool() === 'wrk' ? runWrk(opts) : runAutocannon(opts)
}

function collect(cmd: string, args: string[], limitMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString()
    })
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString()
    })
    const timer = setTimeout(() => process.kill(child.pid as number, 'SIGKILL'), limitMs)
    child.once('error', reject)
    child.once('exit', (code) => {
      clearTimeout(timer)
      if (code === 0) resolve(out)
      else reject(new Error(`${cmd} exited with ${code}: ${err || out}`))
    })
  })
}

async function runWrk(o: LoadOptions): Promise<LoadResult> {
  const args = ['-t1', `-c${o.connections}`, `-d${o.seconds}s`, '--latency']
  for (const [k, v] of Object.entries(o.headers ?? {})) args.push('-H', `${k}: ${v}`)
  const out = await collect(WRK, [...args, o.url], (o.seconds + 30) * 1000)
  const num = (re: RegExp): number => Number(re.exec(out)?.[1] ?? 0)
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)
  return {
    tool: 'wrk',
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    requests: num(/(\d+) requests in/),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
    errors: socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    p50ms: latencyMs(/^\s+50%\s+([\d.]+)(us|ms|s)/m.exec(out)),
    p99ms: latencyMs(/^\s+99%\s+([\d.]+)(us|ms|s)/m.exec(out)),
  }
}

function latencyMs(m: RegExpExecArray | null): number | undefined {
  if (m === null) return undefined
  const v = Number(m[1])
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v
}

async function runAutocannon(o: LoadOptions): Promise<LoadResult> {
  const bin = join(dirname(createRequire(import.meta.url).resolve('autocannon/package.json')), 'autocannon.js')
  const args = [bin, '-c', String(o.connections), '-d', String(o.seconds), '-j']
  for (const [k, v] of Object.entries(o.headers ?? {})) args.push('-H', `${k}=${v}`)
  const out = await collect(process.execPath, [...args, o.url], (o.seconds + 30) * 1000)
  const r = JSON.parse(out) as {
    requests: { average: number; total: number }
    non2xx: number
    errors: number
    latency: { p50: number; p99: number }
  }
  return {
    tool: 'autocannon',
    rps: r.requests.average,
    requests: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors,
    p50ms: r.latency.p50,
    p99ms: r.latency.p99,
  }
}
