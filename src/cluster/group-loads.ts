/**
 * With front workers, the primary supervises the daemon processes but the workers dispatch to
 * them: requests in flight, requests waiting for a free process, and the queue's totals are
 * known only to the workers. The primary asks each worker for them when a status page or a
 * scrape needs them (GroupHost.status()), and adds the answers into the Supervisor's status here.
 */
import type { GroupStatus } from '../daemon/group.js'
import type { LoadBody } from './group-messages.js'

/** `status` with every worker's load added: per process in flight, per group queued and the queue's totals. */
export function addLoads(status: readonly GroupStatus[], loads: readonly LoadBody[]): GroupStatus[] {
  const byGroup = new Map(status.map((g) => [g.name, structuredClone(g)]))
  for (const body of loads) {
    for (const l of body.groups) {
      // A group the primary no longer lists (removed while the worker finished its requests there).
      const g = byGroup.get(l.group)
      if (g === undefined) continue
      g.queued += l.queued
      g.queueWaits = (g.queueWaits ?? 0) + l.queueWaits
      g.queueWaitMs = (g.queueWaitMs ?? 0) + l.queueWaitMs
      g.busyRejections = (g.busyRejections ?? 0) + l.busyRejections
      for (const { seq, count } of l.inflight) {
        const p = g.processes.find((q) => q.seq === seq)
        if (p !== undefined) p.inflight += count
      }
    }
  }
  return [...byGroup.values()]
}
