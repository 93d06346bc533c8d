/**
 * Runs a load while 100 slow logins are in flight (bench/lib/slow-logins.ts in its own process),
 * then stops them and waits until the front has worked off the logins still queued in its
 * provider threads, so the next run starts on a quiet front. The load's result carries a note
 * with what the slow logins did meanwhile.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { SLOW_PASSWORD, SLOW_USERS } from '../servers/front.js'
import { cpuTimeUs } from './cpu.js'
import type { LoadResult } from './load.js'
import { TSX_ARGS } from './processes.js'

const HERE = dirname(fileURLToPath(import.meta.url))
const READY_TIMEOUT_MS = 30_000
/** After the last login is sent, a moment for the front to have read them all. */
const SETTLE_MS = 300
/** After the logins stop, the queued ones may keep the provider threads busy this long at most. */
const DRAIN_TIMEOUT_MS = 120_000
/** The front counts as quiet when it used under 5% of one CPU over a 500 ms sample. */
const QUIET_SAMPLE_MS = 500
const QUIET_CPU_US = 25_000

interface SlowSummary {
  answered: number
  statuses: Record<string, number>
  errors: number
  inFlight: number
}

/** `quietPids`: the processes whose CPU shows the queued logins drained (the front's provider threads, or a group's daemons). */
export async function withSlowLogins(
  opts: { url: string; quietPids: number[] },
  load: () => Promise<LoadResult>,
): Promise<LoadResult> {
  const child = spawn(
    process.execPath,
    [...TSX_ARGS, join(HERE, 'slow-logins.ts'), opts.url, String(SLOW_USERS), 'slow', SLOW_PASSWORD],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  const exited = once(child, 'exit')
  let out = ''
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString()
  })
  try {
    await ready(child.stderr)
    await sleep(SETTLE_MS)
    const result = await load()
    process.kill(child.pid as number, 'SIGTERM')
    await exited
    const slow = JSON.parse(out) as SlowSummary
    const statuses =
      Object.entries(slow.statuses)
        .map(([s, n]) => `${n}×${s}`)
        .join(' ') || 'none yet'
    const drainedMs = await waitQuiet(opts.quietPids)
    return {
      ...result,
      note: `slow logins: ${SLOW_USERS} in flight (${slow.inFlight} still at the end), answered during the run: ${statuses}, socket errors ${slow.errors}; the queued ones drained in ${(drainedMs / 1000).toFixed(1)} s`,
    }
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid as number, 'SIGKILL')
      await exited
    }
  }
}

function ready(stderr: NodeJS.ReadableStream | null): Promise<void> {
  if (stderr === null) return Promise.reject(new Error('slow-logins: no stderr'))
  const lines = createInterface({ input: stderr })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`slow-logins: not all ${SLOW_USERS} logins sent within ${READY_TIMEOUT_MS} ms`)),
      READY_TIMEOUT_MS,
    )
    lines.on('line', (line) => {
      if (!line.startsWith('SLOW-READY ')) {
        process.stderr.write(`slow-logins: ${line}\n`)
        return
      }
      clearTimeout(timer)
      resolve()
    })
  })
}

/** Waits until the CPU time of `pids` stops growing (the hashing is over); returns how long it took. */
async function waitQuiet(pids: number[]): Promise<number> {
  const start = Date.now()
  const total = (): number => pids.reduce((sum, pid) => sum + cpuTimeUs(pid), 0)
  let before = total()
  while (Date.now() - start < DRAIN_TIMEOUT_MS) {
    await sleep(QUIET_SAMPLE_MS)
    const now = total()
    if (now - before < QUIET_CPU_US) return Date.now() - start
    before = now
  }
  process.stderr.write(`warning: still busy ${DRAIN_TIMEOUT_MS / 1000} s after the slow logins stopped\n`)
  return Date.now() - start
}
