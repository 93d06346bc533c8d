/**
 * One front worker (runs in a process forked by the primary, src/cluster/primary.ts): a front
 * built from the configuration the primary sends, listening on the socket the workers share
 * (Node's cluster module hands the primary's listening handle to each), reaching the daemon
 * groups directly (RemoteGroups) and keeping its security state in the primary (ClusterState).
 * The primary steers it over the IPC channel: start, metrics, activity, flush, stop. Signals
 * are the primary's to act on; a worker whose primary is gone stops by itself.
 */
import type { Logger } from 'pino'
import type { Config } from '../config/types.js'
import { createGatehouse, type Gatehouse } from '../server.js'
import { createLogger } from '../log.js'
import { GatewayMetrics } from '../metrics/gateway-metrics.js'
import { LockoutBoard } from '../metrics/lockout-board.js'
import { Channel } from './channel.js'
import { workerBackends, type WorkerBackends } from './worker-backends.js'
import { FreshConnections, stopTakingConnections } from './worker-drain.js'
import type { FrontWorkerInit, FrontWorkerStarted } from './worker-messages.js'

/** How long a stopping worker waits for the primary to answer its drain barrier. */
const DRAIN_BARRIER_MS = 2000

export async function runFrontWorker(): Promise<void> {
  const channel = new Channel(process)
  let log: Logger | undefined
  let front: Gatehouse | undefined
  let backends: WorkerBackends | undefined
  let fresh: FreshConnections | undefined
  const metrics = new GatewayMetrics()
  const lockouts = new LockoutBoard()
  let stopping: Promise<void> | undefined

  const stop = (code: number): Promise<void> => {
    stopping ??= (async () => {
      try {
        if (front !== undefined && fresh !== undefined)
          await stopTakingConnections(front.app.server, fresh, () =>
            channel.request('drain', undefined, DRAIN_BARRIER_MS),
          )
        await front?.close()
        await backends?.close()
      } catch (err) {
        log?.error({ err: (err as Error).message }, 'front worker: stopping failed')
        code = 1
      }
      channel.close()
      process.exitCode = code
      // The IPC pipe keeps the process alive: let go of it once everything else is closed.
      process.disconnect?.()
    })()
    return stopping
  }

  channel.handle('start', async (body): Promise<FrontWorkerStarted> => {
    const init = body as FrontWorkerInit
    const config: Config = init.config
    log = createLogger(config.log.level).child({ worker: init.index })
    backends = await workerBackends(config, channel, log)
    front = await createGatehouse(config, {
      logger: log,
      metrics,
      groupTargets: backends.groupTargets,
      ...(backends.groups ? { supervisor: backends.groups } : {}),
      ...(backends.state ? { state: backends.state } : {}),
      sessionStore: backends.sessionStore,
      hostedProviders: backends.hostedProviders,
    })
    lockouts.watch(front.deps.throttle?.throttle)
    reportWorkerSources(metrics, front, backends)
    fresh = new FreshConnections(front.app.server)
    const address = await front.listen()
    return { address, pid: process.pid }
  })
  channel.handle('metrics', () => metrics.registry.getMetricsAsJSON())
  channel.handle('activity', () => metrics.sampler.report())
  channel.handle('flush', (body) => {
    const { user } = (body ?? {}) as { user?: string }
    if (front === undefined) return { flushed: 0 }
    return front.flushCache(user)
  })
  channel.handle('lockouts', () => (front?.deps.throttle ? lockouts.current(front.deps.throttle.throttle) : null))
  channel.handle('memory', () => ({ pid: process.pid, rssBytes: process.memoryUsage.rss() }))
  channel.handle('certificate', (reason) => {
    const r = front?.reloadCertificate(String(reason))
    // An Error does not cross the pipe as itself: its message is what the reload reports.
    return r === undefined ? null : r.outcome === 'failed' ? { ...r, error: { message: r.error.message } } : r
  })
  channel.on('log-level', (level) => {
    if (log !== undefined && typeof level === 'string') log.level = level
  })
  channel.handle('stop', async () => {
    void stop(0)
    return true
  })
  // The primary is gone (killed, crashed): nobody will tell this worker to stop, so it does.
  process.on('disconnect', () => void stop(0))
  // Ctrl-C reaches the whole process group; the primary decides how the workers stop.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => {})
  channel.send('ready')
}

/** What this worker's metrics read: its caches, provider rests and state store (groups are the primary's). */
function reportWorkerSources(metrics: GatewayMetrics, front: Gatehouse, backends: WorkerBackends): void {
  metrics.setSources({
    cache: () => {
      const { identities, realmHashes } = front.deps
      return {
        identities: { hits: identities.hits, misses: identities.misses, size: identities.size },
        realmHashes: { hits: realmHashes.hits, misses: realmHashes.misses, size: realmHashes.size },
      }
    },
    // Groups are the primary's to report: a worker adding them would count each process N times.
    groups: () => [],
    providerRests: () => front.providers.rests(),
    state: () => {
      const s = backends.state
      return { store: s.kind, up: s.up, ...s.counters }
    },
  })
}
