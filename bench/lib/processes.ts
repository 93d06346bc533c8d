/**
 * Child processes of the benchmark: started with a ready line to wait for, stopped by PID
 * (SIGTERM, then SIGKILL after a bounded wait), and their resident memory read from /proc.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'

export const TSX_ARGS = ['--import', 'tsx']
const READY_TIMEOUT_MS = 60_000
const STOP_TIMEOUT_MS = 10_000

export interface Started<T> {
  child: ChildProcess
  pid: number
  ready: T
}

const running = new Set<ChildProcess>()

/**
 * Spawns `node [nodeArgs] script [args]` and waits for its ready line: the first line on
 * `readyStream` that starts with `prefix`, parsed as JSON after it.
 */
export async function startProcess<T>(
  nodeArgs: string[],
  script: string,
  args: string[],
  opts: { readyStream: 'stdout' | 'stderr'; prefix?: string; stdout?: number | 'ignore'; cwd?: string },
): Promise<Started<T>> {
  const stdio: StdioOptions = ['ignore', opts.readyStream === 'stdout' ? 'pipe' : (opts.stdout ?? 'ignore'), 'pipe']
  const child = spawn(process.execPath, [...nodeArgs, script, ...args], { stdio, cwd: opts.cwd })
  running.add(child)
  child.once('exit', () => running.delete(child))
  const stream = opts.readyStream === 'stdout' ? child.stdout : child.stderr
  if (stream === null) throw new Error(`${script}: no ${opts.readyStream}`)
  const prefix = opts.prefix ?? ''
  const tail: string[] = []
  const lines = createInterface({ input: stream })
  const ready = await new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => fail(new Error(`${script}: not ready within ${READY_TIMEOUT_MS} ms`)),
      READY_TIMEOUT_MS,
    )
    const fail = (err: Error): void => {
      clearTimeout(timer)
      reject(new Error(`${err.message}\n${tail.join('\n')}`))
    }
    lines.on('line', (line) => {
      if (!line.startsWith(prefix)) {
        if (tail.push(line) > 20) tail.shift()
        return
      }
      clearTimeout(timer)
      resolve(JSON.parse(line.slice(prefix.length)) as T)
    })
    child.once('exit', (code, signal) =>
      fail(new Error(`${script} exited before ready (code ${code}, signal ${signal})`)),
    )
  })
  // Keep draining the pipe so the child never blocks on a full one.
  stream.resume()
  return { child, pid: child.pid as number, ready }
}

/** SIGTERM, then SIGKILL if it is still there after STOP_TIMEOUT_MS. Resolves once it exited. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  process.kill(child.pid as number, 'SIGTERM')
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid as number, 'SIGKILL')
  }, STOP_TIMEOUT_MS)
  await exited
  clearTimeout(timer)
}

/** Every process this module started and that is still running (for cleanup on failure). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((c) => stopProcess(c)))
}

/** Resident set size of a process in bytes (0 when it is gone). */
export function rssOf(pid: number): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:'))
    return Number(line?.replace(/\D+/g, '') ?? 0) * 1024
  } catch {
    return 0
  }
}

/**
 * Settles a promise with a child's JSON output. For 'exit' handlers: a parse error thrown there
 * would escape the promise and skip the caller's cleanup, leaving the servers running.
 */
export function resolveJson<T>(
  out: string,
  what: string,
  resolve: (value: T) => void,
  reject: (err: Error) => void,
): void {
  try {
    resolve(JSON.parse(out) as T)
  } catch (err) {
    reject(new Error(`${what} printed something other than its JSON: ${(err as Error).message}`))
  }
}
