/**
 * What the primary serves its front workers besides the listening socket and the providers:
 * the daemon groups' process tables (GroupHost) and, unless `state:` puts it in Redis (where
 * each worker goes itself), the security state they share (StateHost).
 */
import type { Logger } from 'pino'
import type { Config } from '../config/types.js'
import type { GroupStatus } from '../daemon/group.js'
import type { Supervisor } from '../daemon/supervisor.js'
import type { SessionStore } from '../session/index.js'
import type { Channel } from './channel.js'
import { StateHost } from './state-host.js'
import { GroupHost } from './group-host.js'

export interface PrimaryServices {
  start(): Promise<void>
  /** Hooks the services onto a new worker's channel; returns the undo. */
  attach(channel: Channel): () => void
  /** The daemon groups' status with what the workers have in flight and waiting, asked of them now. */
  groupStatus(): Promise<GroupStatus[]>
  /** The sessions the workers share, when the primary holds them (not with `state:`). */
  readonly sessions: SessionStore | undefined
  /** The state the primary holds for the workers; undefined with `state:`. */
  readonly state: StateHost | undefined
  close(): Promise<void>
}

export async function primaryServices(
  config: Config,
  supervisor: Supervisor | undefined,
  log: Logger,
): Promise<PrimaryServices> {
  let groups: GroupHost | undefined
  const state =
    config.state === undefined
      ? new StateHost({
          log: log.child({ component: 'state' }),
          throttle: { maxEntries: config.throttle.maxEntries, maxLockoutMs: config.throttle.maxLockoutMs },
          nonceTtlMs: config.digest.nonceTtlMs,
        })
      : undefined
  return {
    // After the supervisor started: the first tables it sends list running processes.
    async start() {
      if (supervisor !== undefined) groups = new GroupHost(supervisor, log)
    },
    attach: (channel) => {
      const undo = [state?.attach(channel), groups?.attach(channel)]
      return () => undo.forEach((f) => f?.())
    },
    groupStatus: async () => (groups !== undefined ? groups.status() : (supervisor?.status() ?? [])),
    sessions: state?.sessions,
    state,
    async close() {
      groups?.close()
      state?.close()
    },
  }
}
