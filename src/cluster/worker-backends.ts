/**
 * What a front worker reaches through the primary: the configuration's providers (their threads
 * run in the primary), the daemon groups (the primary supervises the processes, the worker
 * connects to each directly), and the security state (in the primary, or in Redis when `state:`
 * is configured: then every worker is an instance of its own on the shared store).
 */
import type { Logger } from 'pino'
import type { Config, ProviderConfig } from '../config/types.js'
import type { Target } from '../proxy/target.js'
import type { SessionStore } from '../session/index.js'
import type { StateBackend } from '../state/state-backend.js'
import { openSharedState } from '../server.js'
import { GroupTarget } from '../proxy/group-target.js'
import { RemoteGroups } from './remote-groups.js'
import type { Channel } from './channel.js'
import { ClusterState } from './state-client.js'
import { RemoteProvider } from './remote-provider.js'
import type { HostedMethod } from './shared-providers.js'

export interface WorkerBackends {
  /** The configuration's providers, run in the primary's threads. */
  hostedProviders(p: ProviderConfig): RemoteProvider
  groupTargets: Map<string, Target>
  groups: RemoteGroups | undefined
  state: StateBackend
  sessionStore: SessionStore
  close(): Promise<void>
}

export async function workerBackends(config: Config, channel: Channel, log: Logger): Promise<WorkerBackends> {
  let described: Promise<Record<string, HostedMethod[]>> | undefined
  const describe = () => (described ??= channel.request<Record<string, HostedMethod[]>>('providers.describe'))
  const state: StateBackend = config.state
    ? await openSharedState(config.state, log.child({ component: 'state' }))
    : new ClusterState({ channel, log: log.child({ component: 'state' }) })
  await state.start()
  const groupConfigs = Object.values(config.groups)
  const groups =
    groupConfigs.length > 0
      ? new RemoteGroups(channel, { workers: config.workers, log: log.child({ component: 'groups' }) })
      : undefined
  try {
    await groups?.start()
  } catch (err) {
    await state.close()
    throw err
  }
  const groupTargets = new Map<string, Target>()
  for (const g of groupConfigs)
    groupTargets.set(
      g.name,
      new GroupTarget(groups!.group(g.name), { fileRoots: g.fileRoots, log, gateway: g.kind === 'python' }),
    )
  return {
    hostedProviders: (p) => new RemoteProvider(p, channel, describe),
    groupTargets,
    groups,
    state,
    sessionStore: state.sessionStore(),
    async close() {
      groups?.close()
      await state.close()
    },
  }
}
