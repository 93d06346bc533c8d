/**
 * The gateway with its front in the gatehouse process itself (`workers: 1`): daemon groups
 * (when configured), providers, the front server, metrics, the admin listener, and the process
 * signals. A configuration reload (SIGHUP, `gatehouse reload`) swaps in a new front
 * behind the same listening socket (src/admin/config-reload.ts).
 */
import type { Logger } from 'pino'
import type { Config } from './config/types.js'
import { createGatehouse, openSharedState, type Gatehouse } from './server.js'
import { createLogger } from './log.js'
import { Supervisor } from './daemon/supervisor.js'
import { GroupTarget } from './proxy/group-target.js'
import type { Target } from './proxy/target.js'
import type { NonceManager } from './auth/nonce.js'
import { GatewayMetrics } from './metrics/gateway-metrics.js'
import { LockoutBoard } from './metrics/lockout-board.js'
import { FrontSwitch } from './admin/front-switch.js'
import { applyConfig } from './admin/config-reload.js'
import { startAdmin, type AdminServer } from './admin/admin-server.js'
import { buildStatus, groupsReady, type StatusReport } from './admin/status-report.js'
import { packageVersion } from './package-root.js'
import type { CacheFlushResult } from './auth/cache-flush.js'
import { MemorySessionStore, type SessionStore } from './session/index.js'
import { installSignals } from './gateway-signals.js'
import { logCacheFlush, onHangup, reloads, restartGroup } from './gateway-control.js'
import type { RunningGateway, RunOptions } from './running-gateway.js'

/** How long a front replaced by a reload may finish its requests before its providers close. */
const DRAIN_TIMEOUT_MS = 30_000

/** The gateway with its front in this process (`workers: 1`, the default). */
export async function runSingleProcess(config: Config, opts: RunOptions): Promise<RunningGateway> {
  const log = opts.logger ?? createLogger(config.log.level)
  const startedAt = Date.now()
  const groups = Object.values(config.groups)
  const supervisor =
    groups.length > 0 ? new Supervisor({ groups, log: log.child({ component: 'supervisor' }) }) : undefined
  const metrics = new GatewayMetrics()
  const lockouts = new LockoutBoard()
  // One connection to the shared state for the gateway's life: a reload keeps it (state: needs a restart).
  const state = config.state ? await openSharedState(config.state, log.child({ component: 'state' })) : undefined
  // One store for the gateway's life: sessions survive a configuration reload. With shared state
  // they live in Redis, so every instance accepts them and a logout anywhere ends them everywhere.
  const sessionStore: SessionStore = state ? state.sessionStore() : new MemorySessionStore()
  const build = async (cfg: Config, nonces?: NonceManager): Promise<Gatehouse> => {
    const groupTargets = new Map<string, Target>()
    for (const g of Object.values(cfg.groups))
      groupTargets.set(
        g.name,
        new GroupTarget(supervisor!.group(g.name), { fileRoots: g.fileRoots, log, gateway: g.kind === 'python' }),
      )
    const built = await createGatehouse(cfg, {
      logger: log,
      groupTargets,
      supervisor,
      metrics,
      sessionStore,
      ...(nonces ? { nonces } : {}),
      ...(state ? { state } : {}),
    })
    lockouts.watch(built.deps.throttle?.throttle)
    return built
  }
  let gatehouse: Gatehouse | undefined
  let address: string
  try {
    await state?.start()
    await supervisor?.start()
    gatehouse = await build(config)
    address = await gatehouse.listen()
  } catch (err) {
    await gatehouse?.close().catch(() => {})
    await supervisor?.close().catch(() => {})
    await state?.close()
    throw err
  }
  const shell = gatehouse
  const front = new FrontSwitch(shell.app.server, shell)
  let live = { config, gatehouse: shell }
  metrics.setSources({
    cache: () => {
      const { identities, realmHashes } = live.gatehouse.deps
      return {
        identities: { hits: identities.hits, misses: identities.misses, size: identities.size },
        realmHashes: { hits: realmHashes.hits, misses: realmHashes.misses, size: realmHashes.size },
      }
    },
    groups: () => supervisor?.status() ?? [],
    providerRests: () => live.gatehouse.providers.rests(),
    ...(state ? { state: () => ({ store: state.kind, up: state.up, ...state.counters }) } : {}),
  })

  const reloader = reloads({
    log,
    metrics,
    configFile: opts.configFile,
    async apply(next) {
      const applied = await applyConfig(live.config, next, {
        log,
        supervisor,
        swapFront: async (c, prev) => {
          const old = live.gatehouse
          const fresh = await build(c, same(prev.digest, c.digest) ? old.deps.nonces : undefined)
          try {
            await fresh.ready()
          } catch (e) {
            await fresh.close().catch(() => {})
            throw e
          }
          front.use(fresh, fresh.app.server)
          live = { config: c, gatehouse: fresh }
          return { retired: retireFront(old, front, shell, log) }
        },
      })
      live = { config: applied.config, gatehouse: live.gatehouse }
      return applied.result
    },
    certificate: (reason) => shell.reloadCertificate(reason),
  })
  const reload = reloader.reload

  const status = (): StatusReport =>
    buildStatus({
      version: packageVersion(),
      startedAt,
      listen: address,
      configFile: opts.configFile,
      ready: readiness().ready,
      lastConfigReload: reloader.last(),
      groups: supervisor?.status() ?? [],
      activity: metrics.sampler.report(),
      lockouts: live.gatehouse.deps.throttle ? lockouts.current(live.gatehouse.deps.throttle.throttle) : null,
    })
  const readiness = () =>
    stopping ? { ready: false, problems: ['stopping'] } : groupsReady(supervisor?.status() ?? [])

  let resolveStopped!: (code: number) => void
  const stopped = new Promise<number>((r) => (resolveStopped = r))
  let stopping: Promise<void> | undefined
  let admin: AdminServer | undefined
  const stop = (code = 0) => {
    stopping ??= (async () => {
      log.info('stopping: draining connections')
      const current = live.gatehouse
      // The shell owns the socket: its close waits for every connection; a newer front only stops taking requests.
      await Promise.all([shell.app.close(), current !== shell ? current.app.close() : undefined])
      await Promise.all([shell.release(), current.release()])
      await supervisor?.close()
      await state?.close()
      // Last, so `gatehouse stop` (which waits for the admin interface to go) returns once all is down.
      await admin?.close().catch(() => {})
      log.info('stopped')
      resolveStopped(code)
    })()
    return stopping
  }

  try {
    if (config.admin) {
      admin = await startAdmin(
        config.admin,
        {
          metrics,
          status,
          readiness,
          restartGroup: restartGroup(supervisor),
          reload,
          async flushCache(user) {
            const result: CacheFlushResult = live.gatehouse.flushCache(user)
            // A user's sessions end with their cached answers (a flush of everything leaves sessions be).
            const store = live.gatehouse.sessionStore
            if (store !== undefined && user !== undefined) result.sessions = await store.deleteByUser(user)
            logCacheFlush(log, user, result)
            return result
          },
          stop: () => void stop(0),
        },
        log,
      )
      log.info({ address: admin.address }, 'admin listener ready')
    }
  } catch (err) {
    await stop(1)
    throw err
  }

  if (opts.signals !== false)
    installSignals(log, {
      stop: () => void stop(0),
      stopping: () => stopping !== undefined,
      hup: onHangup(log, {
        configFile: opts.configFile,
        reload,
        certificate: (reason) => shell.reloadCertificate(reason),
        supervisor,
      }),
    })
  return {
    get gatehouse() {
      return live.gatehouse
    },
    supervisor,
    address,
    metrics,
    get adminAddress() {
      return admin?.address
    },
    status,
    workers: () => [],
    reload,
    stop: () => stop(0),
    untilStopped: () => stopped,
  }
}

/** Once the replaced front has no request in flight (or after DRAIN_TIMEOUT_MS), its providers close. */
async function retireFront(old: Gatehouse, front: FrontSwitch, shell: Gatehouse, log: Logger): Promise<void> {
  const drained = await front.drained(old, DRAIN_TIMEOUT_MS)
  if (!drained)
    log.warn(
      { timeoutMs: DRAIN_TIMEOUT_MS },
      'replaced front still had requests in flight; closing its providers anyway',
    )
  // The shell owns the listening socket: replaced, it is released, never closed.
  if (old === shell) await old.release()
  else await old.close()
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}
