/**
 * What a front worker reaches through the primary: the daemon groups (RemoteGroups: the
 * primary supervises the processes, the worker connects to each directly) and the security
 * state (ClusterState, or Redis when `state:` is configured: then every worker is an instance
 * of its own on the shared store).
 */
import type { Logger } from 'pino'
import type { Config } from '../config-types.js'
import type { Target } from '../proxy/target.js'
import type { SessionStore } from '../session/index.js'
import { MemorySessionStore } from '../session/index.js'
import { errors } from '../errors.js'
import type { Channel } from './channel.js'

export interface WorkerBackends {
  groupTargets: Map<string, Target>
  groups: undefined
  state: undefined
  sessionStore: SessionStore
  close(): Promise<void>
}

export async function workerBackends(config: Config, _channel: Channel, _log: Logger): Promise<WorkerBackends> {
  if (Object.keys(config.groups).length > 0) throw errors.GH_ERR_CONFIG_INVALID('workers: groups not wired yet')
  return {
    groupTargets: new Map(),
    groups: undefined,
    state: undefined,
    sessionStore: new MemorySessionStore(),
    async close() {},
  }
}
