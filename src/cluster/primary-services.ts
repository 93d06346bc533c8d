/**
 * What the primary serves its front workers besides the listening socket: the daemon groups'
 * process tables (GroupHost) and the shared security state (StateHost, unless `state:` puts
 * it in Redis, where each worker goes itself).
 */
import type { Logger } from 'pino'
import type { Config } from '../config-types.js'
import type { Supervisor } from '../daemon/supervisor.js'
import type { SessionStore } from '../session/index.js'
import type { Channel } from './channel.js'

export interface PrimaryServices {
  start(): Promise<void>
  /** Hooks the services onto a new worker's channel; returns the undo. */
  attach(channel: Channel): () => void
  /** The sessions the workers share, when the primary holds them (not with `state:`). */
  readonly sessions: SessionStore | undefined
  close(): Promise<void>
}

export async function primaryServices(
  _config: Config,
  _supervisor: Supervisor | undefined,
  _log: Logger,
): Promise<PrimaryServices> {
  return {
    async start() {},
    attach: () => () => {},
    sessions: undefined,
    async close() {},
  }
}
