/**
 * The messages about daemon groups between the primary (src/cluster/group-host.ts) and a front
 * worker (src/cluster/remote-groups.ts), carried by a Channel: topics, bodies, and readers that
 * turn an unchecked body into a typed one or undefined. Request bodies and responses never
 * pass here: a worker talks to the daemon processes over their own sockets.
 */
import type { GroupTable } from '../daemon/group-table.js'

export const Topic = {
  /** primary → worker note, and worker → primary request (the first tables): TablesBody. */
  tables: 'groups.tables',
  /** primary → worker notes: the Supervisor's events. */
  reload: 'groups.reload',
  changed: 'groups.changed',
  /** primary → worker request: stop sending to a process, reply once the worker's requests on it are over. */
  drain: 'groups.drain',
  /** worker → primary notes. */
  served: 'groups.served',
  demand: 'groups.demand',
  stuck: 'groups.stuck',
  /** worker → primary request: reload now if a watched file changed; replies when done. */
  noticeChanges: 'groups.notice-changes',
  /** primary → worker request (a status page or a scrape): what the worker has in flight and waiting, LoadBody. */
  load: 'groups.load',
} as const

export interface TablesBody {
  /** Rises with every table sent: a worker ignores one older than what it has. */
  version: number
  groups: GroupTable[]
}

export interface ReloadBody {
  name: string
  reason: string
}

export interface GroupBody {
  group: string
}

export interface ProcessBody {
  group: string
  seq: number
}

export interface DrainBody extends ProcessBody {
  timeoutMs: number
}

export interface StuckBody extends ProcessBody {
  phase: 'head' | 'body'
}

export interface ServedBody {
  /** Per process: requests dispatched since the last note, and whether some are still in flight. */
  counts: Array<{ group: string; seq: number; count: number; busy: boolean }>
}

/** One group's dispatch as one worker sees it: the numbers only the dispatching side knows. */
export interface GroupLoad {
  group: string
  /** Requests waiting for a free process now. */
  queued: number
  /** Since the worker started: requests that waited, their total wait, and those answered 503 after queueTimeout. */
  queueWaits: number
  queueWaitMs: number
  busyRejections: number
  /** Requests in flight now, per process. */
  inflight: Array<{ seq: number; count: number }>
}

export interface LoadBody {
  groups: GroupLoad[]
}

type Reader<T> = (body: unknown) => T | undefined

function record(body: unknown): Record<string, unknown> | undefined {
  return typeof body === 'object' && body !== null && !Array.isArray(body)
    ? (body as Record<string, unknown>)
    : undefined
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0

export const readGroupBody: Reader<GroupBody> = (body) => {
  const r = record(body)
  return typeof r?.group === 'string' ? { group: r.group } : undefined
}

export const readProcessBody: Reader<ProcessBody> = (body) => {
  const r = record(body)
  return typeof r?.group === 'string' && isCount(r.seq) ? { group: r.group, seq: r.seq } : undefined
}

export const readDrainBody: Reader<DrainBody> = (body) => {
  const p = readProcessBody(body)
  const ms = record(body)?.timeoutMs
  return p !== undefined && isCount(ms) ? { ...p, timeoutMs: ms } : undefined
}

export const readStuckBody: Reader<StuckBody> = (body) => {
  const p = readProcessBody(body)
  const phase = record(body)?.phase
  return p !== undefined && (phase === 'head' || phase === 'body') ? { ...p, phase } : undefined
}

export const readServedBody: Reader<ServedBody> = (body) => {
  const counts = record(body)?.counts
  if (!Array.isArray(counts)) return undefined
  const out: ServedBody['counts'] = []
  for (const c of counts) {
    const p = readProcessBody(c)
    const count = record(c)?.count
    const busy = record(c)?.busy
    if (p === undefined || !isCount(count) || typeof busy !== 'boolean') return undefined
    out.push({ ...p, count, busy })
  }
  return { counts: out }
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0

export const readLoadBody: Reader<LoadBody> = (body) => {
  const groups = record(body)?.groups
  if (!Array.isArray(groups)) return undefined
  const out: GroupLoad[] = []
  for (const g of groups) {
    const r = record(g)
    if (
      typeof r?.group !== 'string' ||
      !isCount(r.queued) ||
      !isCount(r.queueWaits) ||
      !isNumber(r.queueWaitMs) ||
      !isCount(r.busyRejections) ||
      !Array.isArray(r.inflight)
    )
      return undefined
    const inflight: GroupLoad['inflight'] = []
    for (const i of r.inflight) {
      const q = record(i)
      if (!isCount(q?.seq) || !isCount(q.count)) return undefined
      inflight.push({ seq: q.seq, count: q.count })
    }
    out.push({
      group: r.group,
      queued: r.queued,
      queueWaits: r.queueWaits,
      queueWaitMs: r.queueWaitMs,
      busyRejections: r.busyRejections,
      inflight,
    })
  }
  return { groups: out }
}

export const readReloadBody: Reader<ReloadBody> = (body) => {
  const r = record(body)
  return typeof r?.name === 'string' && typeof r.reason === 'string' ? { name: r.name, reason: r.reason } : undefined
}

/** Tables come from the primary, which built them from its own state: only their shape is checked. */
export const readTablesBody: Reader<TablesBody> = (body) => {
  const r = record(body)
  if (!isCount(r?.version) || !Array.isArray(r.groups)) return undefined
  const ok = r.groups.every((g) => {
    const t = record(g)
    return (
      typeof t?.name === 'string' &&
      typeof t.secret === 'string' &&
      record(t.config) !== undefined &&
      Array.isArray(t.processes) &&
      t.processes.every((p) => {
        const q = record(p)
        return isCount(q?.seq) && typeof q.socketPath === 'string' && typeof q.state === 'string'
      })
    )
  })
  return ok ? (r as unknown as TablesBody) : undefined
}
