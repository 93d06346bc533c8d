/**
 * What `gatehouse status`, /status and /status.json show (mod_status, passenger-status): the
 * gateway, then each daemon group with its processes: pid, state, requests served, memory
 * (resident set size, read from /proc/PID/status on Linux), uptime, and the last reload with
 * its reason. Beside them, for the status page, the last minutes of traffic (status-sampler.ts)
 * and the login lockouts in force (lockout-board.ts): the only user names shown are those of
 * users locked out now. Never a credential.
 */
import { readFileSync } from 'node:fs'
import type { GroupStatus } from '../daemon/group.js'
import type { Activity } from '../metrics/status-sampler.js'
import type { Lockout } from '../metrics/lockout-board.js'

export type { Activity, Lockout }

export interface ProcessReport {
  seq: number
  pid: number | null
  state: string
  inflight: number
  served: number
  startedAt: string
  uptimeSeconds: number
  /** Resident set size in bytes; null where /proc is not available. */
  rssBytes: number | null
}

export interface GroupReport {
  name: string
  state: string
  generation: number
  min: number
  max: number
  queued: number
  restarts: number
  reloads: number
  recycled: number
  spawned: number
  retired: number
  lastReload: { at: string; reason: string } | null
  processes: ProcessReport[]
}

export interface ConfigReloadReport {
  at: string
  ok: boolean
  summary: string
}

export interface StatusReport {
  version: string
  pid: number
  startedAt: string
  uptimeSeconds: number
  listen: string
  configFile: string | null
  rssBytes: number | null
  ready: boolean
  lastConfigReload: ConfigReloadReport | null
  groups: GroupReport[]
  /** Traffic, authentication outcomes, cache and providers over the last minutes; absent without metrics. */
  activity?: Activity
  /** Lockouts in force now; null when login throttling is off. */
  lockouts?: Lockout[] | null
  /** With front workers (`workers:` above 1): each one; rssBytes above is then the primary's and theirs together. */
  workers?: WorkerReport[]
}

export interface WorkerReport {
  index: number
  pid: number
  since: string
  rssBytes: number | null
}

export interface StatusInputs {
  version: string
  startedAt: number
  listen: string
  configFile: string | undefined
  ready: boolean
  lastConfigReload: ConfigReloadReport | null
  groups: GroupStatus[]
  activity?: Activity
  lockouts?: Lockout[] | null
  now?: number
}

export function buildStatus(input: StatusInputs): StatusReport {
  const now = input.now ?? Date.now()
  return {
    version: input.version,
    pid: process.pid,
    startedAt: new Date(input.startedAt).toISOString(),
    uptimeSeconds: seconds(now - input.startedAt),
    listen: input.listen,
    configFile: input.configFile ?? null,
    rssBytes: process.memoryUsage.rss(),
    ready: input.ready,
    lastConfigReload: input.lastConfigReload,
    groups: input.groups.map((g) => groupReport(g, now)),
    ...(input.activity !== undefined ? { activity: input.activity } : {}),
    ...(input.lockouts !== undefined ? { lockouts: input.lockouts } : {}),
  }
}

function groupReport(g: GroupStatus, now: number): GroupReport {
  return {
    name: g.name,
    state: g.state,
    generation: g.generation,
    min: g.min ?? g.processes.length,
    max: g.max ?? g.processes.length,
    queued: g.queued,
    restarts: g.restarts,
    reloads: g.reloads,
    recycled: g.recycled ?? 0,
    spawned: g.spawned ?? 0,
    retired: g.retired ?? 0,
    lastReload: g.lastReload ? { at: new Date(g.lastReload.at).toISOString(), reason: g.lastReload.reason } : null,
    processes: g.processes.map((p) => ({
      seq: p.seq,
      pid: p.pid ?? null,
      state: p.state,
      inflight: p.inflight,
      served: p.served,
      startedAt: new Date(p.startedAt).toISOString(),
      uptimeSeconds: seconds(now - p.startedAt),
      rssBytes: p.pid !== undefined && p.state !== 'dead' ? rssOf(p.pid) : null,
    })),
  }
}

/** VmRSS of a process in bytes (Linux /proc), or null. */
export function rssOf(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : null
  } catch {
    return null
  }
}

/** Ready: the front serves and every group has at least one ready process. */
export function groupsReady(groups: GroupStatus[]): { ready: boolean; problems: string[] } {
  const problems = groups
    .filter((g) => g.state !== 'running' || !g.processes.some((p) => p.state === 'ready'))
    .map((g) => `group ${g.name}: no ready process (${g.state})`)
  return { ready: problems.length === 0, problems }
}

function seconds(ms: number): number {
  return Math.max(0, Math.round(ms / 1000))
}
