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
import type { Supervisor } from './daemon/supervisor.js'
import { GroupTarget } from './proxy/group-target.js'
import type { Target } from './proxy/target.js'
import type { NonceManager } from './auth/nonce.js'
import { GatewayMetrics } from './metrics/gateway-metrics.js'
import { LockoutBoard } from './metrics/lockout-board.js'
import { FrontSwitch } from './admin/front-switch.js'
import { applyConfig } from './admin/config-reload.js'
import type { ReloadResult } from './admin/admin-server.js'
import type { StatusReport } from './admin/status-report.js'
import type { CacheFlushResult } from './auth/cache-flush.js'
import { MemorySessionStore, type SessionStore } from './session/index.js'
import type { StateBackend } from './state/state-backend.js'
import {
  GatewayLifecycle,
  gatewayStatus,
  groupSupervisor,
  logCacheFlush,
  reloads,
  restartGroup,
} from './gateway-control.js'
import type { RunningGateway, RunOptions } from './running-gateway.js'

/** How long a front replaced by a reload may finish its requests before its providers close. */
const DRAIN_TIMEOUT_MS = 30_000

/** The gateway with its front in this process (`workers: 1`, the default). */
export async function runSingleProcess(config: Config, opts: RunOptions): Promise<RunningGateway> {
  const log = opts.logger ?? createLogger(config.log.level)
  const startedAt = Date.now()
  const supervisor = groupSupervisor(config, log)
  const metrics = new GatewayMetrics()
  const lockouts = new LockoutBoard()
  // One connection to the shared state for the gateway's life: a reload keeps it (state: needs a restart).
  const state = config.state ? await openSharedState(config.state, log.child({ component: 'state' })) : undefined
  const build = frontBuilder({ log, supervisor, metrics, lockouts, state })
  const { shell, address } = await startFront(config, build, supervisor, state)
  const front = new FrontSwitch(shell.app.server, shell)
  const live: Live = { config, gatehouse: shell }
  metrics.setSources(metricSources(live, supervisor, state))
  const reloader = reloads({
    log,
    metrics,
    configFile: opts.configFile,
    apply: (next) => applyToFront(live, next, { log, supervisor, build, front, shell }),
    certificate: (reason) => shell.reloadCertificate(reason),
  })
  const reload = reloader.reload
  const life = new GatewayLifecycle(log, 'draining connections', async () => {
    const current = live.gatehouse
    // The shell owns the socket: its close waits for every connection; a newer front only stops taking requests.
    await Promise.all([shell.app.close(), current !== shell ? current.app.close() : undefined])
    await Promise.all([shell.release(), current.release()])
    await supervisor?.close()
    await state?.close()
  })
  const readiness = () => life.readiness(supervisor)
  const facts = { startedAt, address, configFile: opts.configFile, readiness, reloads: reloader, supervisor }
  const status = (): StatusReport => {
    const throttle = live.gatehouse.deps.throttle?.throttle
    return gatewayStatus(facts, metrics.sampler.report(), throttle ? lockouts.current(throttle) : null)
  }
  await life.startAdmin(config.admin, {
    metrics,
    status,
    readiness,
    restartGroup: restartGroup(supervisor),
    reload,
    flushCache: (user) => flushFront(live.gatehouse, user, log),
  })
  life.installSignals(opts, { reload, certificate: (reason) => shell.reloadCertificate(reason), supervisor })
  return life.running({
    gatehouse: () => live.gatehouse,
    supervisor,
    address,
    metrics,
    status,
    workers: () => [],
    reload,
  })
}

/** The front serving now and the configuration it was built from; a reload replaces both. */
interface Live {
  config: Config
  gatehouse: Gatehouse
}

type BuildFront = (cfg: Config, nonces?: NonceManager) => Promise<Gatehouse>

/** Builds a front on the gateway's lasting parts: supervisor, metrics, lockout board, state and sessions. */
function frontBuilder(o: {
  log: Logger
  supervisor: Supervisor | undefined
  metrics: GatewayMetrics
  lockouts: LockoutBoard
  state: StateBackend | undefined
}): BuildFront {
  const { log, supervisor, state } = o
  // One store for the gateway's life: sessions survive a configuration reload. With shared state
  // they live in Redis, so every instance accepts them and a logout anywhere ends them everywhere.
  const sessionStore: SessionStore = state ? state.sessionStore() : new MemorySessionStore()
  return async (cfg, nonces) => {
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
      metrics: o.metrics,
      sessionStore,
      ...(nonces ? { nonces } : {}),
      ...(state ? { state } : {}),
    })
    o.lockouts.watch(built.deps.throttle?.throttle)
    return built
  }
}

/** Starts the state, the groups and the first front; what started is closed again if a later step fails. */
async function startFront(
  config: Config,
  build: BuildFront,
  supervisor: Supervisor | undefined,
  state: StateBackend | undefined,
): Promise<{ shell: Gatehouse; address: string }> {
  let gatehouse: Gatehouse | undefined
  try {
    await state?.start()
    await supervisor?.start()
    gatehouse = await build(config)
    return { shell: gatehouse, address: await gatehouse.listen() }
  } catch (err) {
    await gatehouse?.close().catch(() => {})
    await supervisor?.close().catch(() => {})
    await state?.close()
    throw err
  }
}

/** The metrics read off the live front: its caches and providers, the groups and the shared state. */
function metricSources(
  live: Live,
  supervisor: Supervisor | undefined,
  state: StateBackend | undefined,
): Parameters<GatewayMetrics['setSources']>[0] {
  return {
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
  }
}

/**
 * Applies a configuration; when the front must change, a fresh one (on the same nonces when the
 * digest settings did not change) takes the socket once ready, and the replaced one retires.
 */
async function applyToFront(
  live: Live,
  next: Config,
  o: { log: Logger; supervisor: Supervisor | undefined; build: BuildFront; front: FrontSwitch; shell: Gatehouse },
): Promise<ReloadResult> {
  const applied = await applyConfig(live.config, next, {
    log: o.log,
    supervisor: o.supervisor,
    swapFront: async (c, prev) => {
      const old = live.gatehouse
      const fresh = await o.build(c, same(prev.digest, c.digest) ? old.deps.nonces : undefined)
      try {
        await fresh.ready()
      } catch (e) {
        await fresh.close().catch(() => {})
        throw e
      }
      o.front.use(fresh, fresh.app.server)
      live.config = c
      live.gatehouse = fresh
      return { retired: retireFront(old, o.front, o.shell, o.log) }
    },
  })
  live.config = applied.config
  return applied.result
}

/** The admin cache flush: a user's sessions end with their cached answers (a flush of everything leaves sessions be). */
async function flushFront(gatehouse: Gatehouse, user: string | undefined, log: Logger): Promise<CacheFlushResult> {
  const result: CacheFlushResult = gatehouse.flushCache(user)
  const store = gatehouse.sessionStore
  if (store !== undefined && user !== undefined) result.sessions = await store.deleteByUser(user)
  logCacheFlush(log, user, result)
  return result
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
