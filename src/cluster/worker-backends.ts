/**
 * What a front worker reaches through the primary: the configuration's providers (their threads
 * run in the primary), the daemon groups (the primary supervises the processes, the worker
 * connects to each directly), and the security state (in the primary, or in Redis when `state:`
 * is configured: then every worker is an instance of its own on the shared store).
 */
import type { Logger } from 'pino'
import type { Config, ProviderConfig } from '../config-types.js'
import type { Target } from '../proxy/target.js'
import type { SessionStore } from '../session/index.js'
import type { StateBackend } from '../state/state-backend.js'
import { openSharedState } from '../server.js'
import { errors } from '../errors.js'
import type { Channel } from './channel.js'
import { ClusterState } from './state-client.js'
import { RemoteProvider } from './remote-provider.js'
import type { HostedMethod } from './shared-providers.js'

export interface WorkerBackends {
  /** The configuration's providers, run in the primary's threads. */
  hostedProviders(p: ProviderConfig): RemoteProvider
  groupTargets: Map<string, Target>
  groups: undefined
  state: StateBackend
  sessionStore: SessionStore
  close(): Promise<void>
}

export async function workerBackends(config: Config, channel: Channel, log: Logger): Promise<WorkerBackends> {
  if (Object.keys(config.groups).length > 0) throw errors.GH_ERR_CONFIG_INVALID('workers: groups not wired yet')
  let described: Promise<Record<string, HostedMethod[]>> | undefined
  const describe = () => (described ??= channel.request<Record<string, HostedMethod[]>>('providers.describe'))
  const state: StateBackend = config.state
    ? await openSharedState(config.state, log.child({ component: 'state' }))
    : new ClusterState({ channel, log: log.child({ component: 'state' }) })
  await state.start()
  return {
    hostedProviders: (p) => new RemoteProvider(p, channel, describe),
    groupTargets: new Map(),
    groups: undefined,
    state,
    sessionStore: state.sessionStore(),
    close: () => state.close(),
  }
}
