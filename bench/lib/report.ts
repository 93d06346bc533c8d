/** The benchmark's printed table and its JSON record. */
import type { LoadResult } from './load.js'

export interface Measurement {
  result: LoadResult
  /** CPU µs per request of the process that answered (bare, upstream or the front). */
  serverUsPerReq: number
  /** CPU µs per request of the daemon processes (front scenarios only). */
  daemonUsPerReq?: number
  /** CPU µs per request of the answering process's main thread (its event loop). */
  mainUsPerReq: number
  /** Share of the machine's CPU time that was busy during the run (0..1). */
  busy: number
  /**
   * Rows answered by several processes (a primary and its workers): each one's CPU µs and its
   * main thread's context switches per request, in the order of the server's pids.
   */
  perProcess?: Array<{ usPerReq: number; switchesPerReq: number }>
  /** Busy CPU µs per request of the whole machine outside the server and daemons: the load generator and the rest. */
  otherUsPerReq?: number
}

export interface Row {
  name: string
  label: string
  /** Medians over the rounds. */
  rps: number
  ratio: number
  serverUsPerReq: number
  daemonUsPerReq?: number
  mainUsPerReq: number
  busy: number
  p50ms?: number
  p99ms?: number
  errors: number
  /** Per round, to show the spread. */
  rounds: Array<{ rps: number; ratio: number }>
  also?: { name: string; ratio: number }
  /** Notes of the runs (LoadResult.note), printed under the table. */
  notes?: string[]
  /** Medians over rounds of Measurement.perProcess and otherUsPerReq. */
  perProcess?: Array<{ usPerReq: number; switchesPerReq: number }>
  otherUsPerReq?: number
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

/** `bareRss`: the bare Fastify process's RSS; each memory line then also gives its ratio to it. */
export function formatTable(rows: Row[], memory: Array<{ name: string; rss: number }>, bareRss?: number): string {
  const num = (v: number | undefined, digits = 0, width = 7): string =>
    (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(digits)).padStart(width)
  const lines = [
    `${'scenario'.padEnd(62)} ${'req/s'.padStart(7)} ${'ratio'.padStart(5)}  ${'CPU µs/req'.padStart(10)} ${'main'.padStart(5)} ${'daemons'.padStart(7)} ${'busy'.padStart(4)}  ${'p50 ms'.padStart(6)} ${'p99 ms'.padStart(6)}  err`,
  ]
  for (const r of rows) {
    const spread = r.rounds.length > 1 ? `  [${r.rounds.map((x) => x.ratio.toFixed(2)).join(' ')}]` : ''
    lines.push(
      `${r.label.padEnd(62)} ${num(r.rps)} ${num(r.ratio, 2, 5)}  ${num(r.serverUsPerReq, 1, 10)} ${num(r.mainUsPerReq, 1, 5)} ${num(r.daemonUsPerReq, 1)} ${`${num(r.busy * 100, 0, 3)}%`}  ${num(r.p50ms, 2, 6)} ${num(r.p99ms, 2, 6)}  ${String(r.errors).padStart(3)}` +
        `${r.also ? `  (${r.also.ratio.toFixed(2)} of ${r.also.name})` : ''}${spread}`,
    )
  }
  lines.push('', 'memory (RSS after the runs):')
  for (const m of memory) {
    const ratio = bareRss
      ? `  (${(m.rss / bareRss).toFixed(2)}× bare Fastify's ${(bareRss / 1024 / 1024).toFixed(1)} MB)`
      : ''
    lines.push(`  ${m.name.padEnd(30)} ${(m.rss / 1024 / 1024).toFixed(1).padStart(7)} MB${ratio}`)
  }
  return lines.join('\n')
}

/**
 * Where the CPU of the front and cluster rows goes, per request: each process (with workers,
 * the first is the primary), the daemons, and the rest of the machine (the load
 * generator above all); with each process's main-thread context switches per request.
 */
export function formatPerProcess(rows: Row[]): string {
  const lines: string[] = []
  for (const r of rows) {
    if (r.perProcess === undefined) continue
    const procs = r.perProcess
      .map(
        (p, i) =>
          `${r.perProcess?.length === 1 ? 'process' : i === 0 ? 'primary' : `w${i}`} ${p.usPerReq.toFixed(1)} (${p.switchesPerReq.toFixed(2)} cs)`,
      )
      .join(', ')
    const daemons = r.daemonUsPerReq !== undefined ? `, daemons ${r.daemonUsPerReq.toFixed(1)}` : ''
    const other = r.otherUsPerReq !== undefined ? `, rest of the machine ${r.otherUsPerReq.toFixed(1)}` : ''
    lines.push(`  ${r.name.padEnd(22)} ${procs}${daemons}${other}`)
  }
  return lines.length > 0
    ? `CPU µs per request by process (cs: main-thread context switches per request):\n${lines.join('\n')}`
    : ''
}
