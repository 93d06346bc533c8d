/**
 * Summarizes a V8 .cpuprofile (from `node --cpu-prof`): the functions with the most self
 * time, and self time per source file, as shares of the non-idle time.
 *   node --import tsx bench/profile-summary.ts FILE.cpuprofile [top=25]
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
}
interface ProfileNode {
  id: number
  callFrame: CallFrame
}
interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
}

/** A time window in microseconds of the monotonic clock (process.hrtime), as V8 stamps samples. */
export interface Window {
  fromUs: number
  toUs: number
}

export interface Row {
  name: string
  ms: number
  share: number
}
export interface ProfileSummary {
  busyMs: number
  idleMs: number
  functions: Row[]
  files: Row[]
}

/** Only samples inside `window` count, when given (the load run, without start-up and warm-up). */
export function summarize(profile: CpuProfile, top = 25, window?: Window): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]))
  const fn = new Map<string, number>()
  const file = new Map<string, number>()
  let idle = 0
  let busy = 0
  let at = profile.startTime
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0
    at += us
    if (window !== undefined && (at < window.fromUs || at > window.toUs)) return
    const f = byId.get(id)
    if (f === undefined) return
    if (f.functionName === '(idle)') {
      idle += us
      return
    }
    busy += us
    const where = shortUrl(f.url)
    const key = `${f.functionName || '(anonymous)'} ${where ? `${where}:${f.lineNumber + 1}` : ''}`.trim()
    fn.set(key, (fn.get(key) ?? 0) + us)
    const fileKey = where || f.functionName
    file.set(fileKey, (file.get(fileKey) ?? 0) + us)
  })
  const rows = (m: Map<string, number>): Row[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000, share: busy > 0 ? us / busy : 0 }))
  return { busyMs: busy / 1000, idleMs: idle / 1000, functions: rows(fn), files: rows(file) }
}

/** node:internal/… stays as is; files are shown from node_modules/… or src/… on. */
function shortUrl(url: string): string {
  if (url === '') return ''
  const path = url.startsWith('file://') ? fileURLToPath(url) : url
  const nm = path.lastIndexOf('node_modules/')
  if (nm !== -1) return path.slice(nm + 'node_modules/'.length)
  const m = /\/(src|bench|test|providers)\/.*$/.exec(path)
  return m ? m[0].slice(1) : path
}

export function formatSummary(title: string, s: ProfileSummary): string {
  const pct = (r: Row): string => `${(r.share * 100).toFixed(1).padStart(5)}%  ${r.name}`
  return [
    `${title}: ${s.busyMs.toFixed(0)} ms busy, ${s.idleMs.toFixed(0)} ms idle`,
    '  top self time by function:',
    ...s.functions.map((r) => `    ${pct(r)}`),
    '  self time by file:',
    ...s.files.slice(0, 15).map((r) => `    ${pct(r)}`),
  ].join('\n')
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2]
  if (!file) {
    process.stderr.write('usage: profile-summary.ts FILE.cpuprofile [top]\n')
    process.exit(2)
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  process.stdout.write(formatSummary(file, summarize(profile, Number(process.argv[3] ?? 25))) + '\n')
}
