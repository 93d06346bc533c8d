/**
 * What a supervising process tells front workers about one group (src/cluster/group-host.ts),
 * and what it hears back from them: enough for a worker to connect to each process itself and
 * dispatch to it, while supervision (spawn, recycle, reload, autoscale) stays in one place.
 */
import type { GroupConfig } from '../config/types.js'
import type { ProviderMethodName } from '../ipc/protocol.js'

export type TableProcessState = 'starting' | 'ready' | 'draining'

export interface TableProcess {
  seq: number
  pid?: number
  socketPath: string
  /** starting: not connectable yet, but requests may wait for it; draining: takes nothing new. */
  state: TableProcessState
  generation: number
}

export interface GroupTable {
  name: string
  /** The group's secret (hex): a data connection's HELLO proves it. */
  secret: string
  config: GroupConfig
  generation: number
  /** The provider module's methods as the newest ready process reported them. */
  providerMethods?: ProviderMethodName[]
  /** Seconds a 503 "unavailable" asks clients to wait (the group's respawn backoff). */
  retryAfter: number
  processes: TableProcess[]
}

/** What front workers report to the group that supervises the processes they dispatched to. */
export interface RemoteDispatchNotes {
  /**
   * `count` more requests were dispatched to process `seq` (maxRequests), and whether the worker
   * still has requests on it: a busy process is not idle (inactivityTimeout, idleTime).
   */
  served(seq: number, count: number, busy: boolean): void
  /** A request found every process busy: the autoscaler may start one more. */
  demand(): void
  /** A request to process `seq` timed out: the process is killed and replaced. */
  stuck(seq: number, phase: 'head' | 'body'): void
  /** Reloads now if a watched file changed; never rejects. */
  noticeChanges(): Promise<void>
  table(): GroupTable
}

/** Asks the front workers to stop sending to process `seq` and resolves once their requests on it are over (or after timeoutMs). */
export type DrainElsewhere = (group: string, seq: number, timeoutMs: number) => Promise<void>
