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
