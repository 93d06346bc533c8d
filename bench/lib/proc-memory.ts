/**
 * What a set of processes costs the machine, read from /proc/PID/smaps: the anonymous pages of
 * each (its own: heaps, stacks, the copied-on-write data of the files it maps), and the
 * file-backed pages (the node binary, shared libraries), which processes mapping the same file
 * share, so they are counted once per file. RSS summed counts them once per process instead.
 */
import { readdirSync, readFileSync } from 'node:fs'

export interface ProcessMemory {
  pid: number
  /** VmRSS, MB. */
  rss: number
  /** Anonymous pages, MB: what this process alone costs. */
  anonymous: number
  /** Resident file-backed pages by file, MB. */
  files: Map<string, number>
}

export function processMemory(pid: number): ProcessMemory {
  const text = readFileSync(`/proc/${pid}/smaps`, 'utf8')
  const files = new Map<string, number>()
  let anonymous = 0
  let rss = 0
  let path = ''
  let mappingRss = 0
  const close = (): void => {
    if (path.startsWith('/')) files.set(path, (files.get(path) ?? 0) + mappingRss)
  }
  for (const line of text.split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line)
    if (header) {
      close()
      path = header[1] ?? ''
      mappingRss = 0
      continue
    }
    const field = /^(Rss|Anonymous):\s+(\d+) kB/.exec(line)
    if (!field) continue
    const mb = Number(field[2]) / 1024
    if (field[1] === 'Rss') {
      rss += mb
      mappingRss += mb
    } else {
      anonymous += mb
      // The file's own pages are what is left of the mapping once its private copies are out.
      mappingRss -= mb
    }
  }
  close()
  return { pid, rss, anonymous, files }
}

/** The memory of processes together: anonymous pages summed, each file's resident pages counted once. */
export function machineMemory(procs: readonly ProcessMemory[]): { total: number; rssSum: number; shared: number } {
  const shared = new Map<string, number>()
  for (const p of procs) for (const [file, mb] of p.files) shared.set(file, Math.max(shared.get(file) ?? 0, mb))
  const sharedSum = [...shared.values()].reduce((a, b) => a + b, 0)
  return {
    total: procs.reduce((a, p) => a + p.anonymous, 0) + sharedSum,
    rssSum: procs.reduce((a, p) => a + p.rss, 0),
    shared: sharedSum,
  }
}

/** The PIDs of the direct children of `pid`. */
export function childPids(pid: number): number[] {
  const out: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      // The command name may hold spaces and parentheses: the fields after its last ')' are fixed.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (ppid === pid) out.push(Number(entry))
    } catch {
      // gone meanwhile
    }
  }
  return out.sort((a, b) => a - b)
}
