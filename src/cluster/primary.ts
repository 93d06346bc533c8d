/**
 * The primary of a gatehouse with front workers (`workers:` above 1). It serves no request
 * itself: it supervises the daemon groups once for all workers, holds the security state the
 * workers share (throttle counts and lockouts, Digest nonce counts, sessions, cache flushes),
 * forks the front workers (src/cluster/worker-pool.ts), answers the admin listener with one
 * /metrics and one status page summed over the workers, and coordinates reloads (groups first,
 * then a new set of workers that listens before the old one drains) and stops.
 */
import { randomBytes } from 'node:crypto'
import type { Config } from '../config/types.js'
import type { Logger } from 'pino'
import { createLogger } from '../log.js'
import type { Supervisor } from '../daemon/supervisor.js'
import type { GroupStatus } from '../daemon/group.js'
import { GatewayMetrics } from '../metrics/gateway-metrics.js'
import type { Activity } from '../metrics/status-sampler.js'
import type { Lockout } from '../metrics/lockout-board.js'
import { applyConfig } from '../admin/config-reload.js'
import type { ReloadResult } from '../admin/admin-server.js'
import type { StatusReport } from '../admin/status-report.js'
import type { CacheFlushResult } from '../auth/cache-flush.js'
import type { CertificateReload } from '../tls-certificate.js'
import type { RunningGateway, RunOptions } from '../running-gateway.js'
import {
  GatewayLifecycle,
  gatewayStatus,
  groupSupervisor,
  type GatewayFacts,
  logCacheFlush,
  reloads,
  restartGroup,
} from '../gateway-control.js'
import { errors } from '../errors.js'
import { WorkerPool } from './worker-pool.js'
import { aggregateMetrics, mergeActivity, mergeLockouts, type MetricsJson } from './merge-reports.js'
import { primaryServices } from './primary-services.js'
import { SharedProviders } from './shared-providers.js'

/** How long a worker may take to start listening, and a stopping one to finish its requests. */
const WORKER_START_TIMEOUT_MS = 30_000
const DRAIN_TIMEOUT_MS = 30_000

export async function runPrimary(config: Config, opts: RunOptions = {}): Promise<RunningGateway> {
  const log = opts.logger ?? createLogger(config.log.level)
  const startedAt = Date.now()
  const supervisor = groupSupervisor(config, log)
  const services = await primaryServices(config, supervisor, log)
  // The providers' threads, once for every worker; a reload that rebuilds the fronts gets new ones.
  const fronts: Fronts = { providers: new SharedProviders(config, log), running: config, secret: sharedSecret(config) }
  const metrics = new GatewayMetrics()
  // The workers dispatch: what is in flight and waiting is asked of them at each scrape.
  let scrapedGroups: GroupStatus[] | undefined
  metrics.setSources({
    cache: () => undefined,
    groups: () => scrapedGroups ?? supervisor?.status() ?? [],
    providerRests: () => fronts.providers.registry.rests(),
  })
  const pool = workerPool(config, opts, log, services, fronts)
  metrics.addWorkerSources({ workers: () => pool.workers.length, crashes: () => pool.crashes })
  const address = await startAll({ supervisor, services, fronts, pool })
  log.info({ address, workers: config.workers }, 'front workers listening')

  let swapped = false
  const reloader = reloads({
    log,
    metrics,
    configFile: opts.configFile,
    async apply(next) {
      swapped = false
      return applyToWorkers(fronts, next, { log, supervisor, pool, swapped: () => (swapped = true) })
    },
    // New workers read the certificate as they start; the ones kept are asked to re-read it.
    certificate: (reason) => (swapped ? undefined : certificateReload(pool, reason)),
  })
  const reload = reloader.reload
  const life = new GatewayLifecycle(log, 'draining the front workers', async () => {
    await pool.stop()
    await fronts.providers.close()
    await supervisor?.close()
    await services.close()
  })
  const readiness = () => {
    const r = life.readiness(supervisor)
    if (life.stopping) return r
    const missing = config.workers - pool.workers.length
    if (missing > 0) r.problems.push(`${missing} of ${config.workers} front workers not running`)
    return { ready: r.problems.length === 0 && r.ready, problems: r.problems }
  }
  const facts = { startedAt, address, configFile: opts.configFile, readiness, reloads: reloader, supervisor }
  const status = (): Promise<StatusReport> => workersStatus(pool, services, facts)
  await life.startAdmin(config.admin, {
    metrics: {
      contentType: metrics.contentType,
      text: async () => {
        const [groups, perWorker] = await Promise.all([services.groupStatus(), pool.ask<MetricsJson>('metrics')])
        scrapedGroups = groups
        return aggregateMetrics([await metrics.registry.getMetricsAsJSON(), ...perWorker])
      },
    },
    status,
    readiness,
    restartGroup: restartGroup(supervisor),
    reload,
    flushCache: (user) => flushWorkers(pool, services, user, log),
  })
  life.installSignals(opts, { reload, certificate: (reason) => certificateReload(pool, reason), supervisor })
  return life.running({
    gatehouse: () => {
      throw errors.GH_ERR_OPT_INVALID('with workers: above 1 the fronts run in the front worker processes')
    },
    supervisor,
    address,
    metrics,
    workers: () => pool.workers.map((w) => ({ index: w.index, pid: w.pid })),
    status,
    reload,
  })
}

/**
 * What the workers run on: the providers' threads, the configuration as the file has it
 * (`running`), and the Digest secret they are given with it.
 */
interface Fronts {
  providers: SharedProviders
  running: Config
  secret: string
}

type Services = Awaited<ReturnType<typeof primaryServices>>

/** The front workers; each one attached to the primary's services and to the providers of the moment. */
function workerPool(config: Config, opts: RunOptions, log: Logger, services: Services, fronts: Fronts): WorkerPool {
  return new WorkerPool({
    size: config.workers,
    log,
    startTimeoutMs: WORKER_START_TIMEOUT_MS,
    stopTimeoutMs: DRAIN_TIMEOUT_MS,
    attach: (channel) => {
      const undo = [services.attach(channel), fronts.providers.attach(channel)]
      return () => undo.forEach((f) => f())
    },
    ...(opts.workerOutput ? { output: opts.workerOutput } : {}),
  })
}

/** Starts groups, services, providers, then the workers; what started is stopped again if a later step fails. */
async function startAll(o: {
  supervisor: Supervisor | undefined
  services: Services
  fronts: Fronts
  pool: WorkerPool
}): Promise<string> {
  try {
    await o.supervisor?.start()
    await o.services.start()
    await o.fronts.providers.start()
    return await o.pool.start(withSecret(o.fronts.running, o.fronts.secret))
  } catch (err) {
    await o.pool.stop().catch(() => {})
    await o.supervisor?.close().catch(() => {})
    await o.fronts.providers.close()
    await o.services.close()
    throw err
  }
}

/**
 * Applies a configuration; when the fronts must change, a new set of workers (on the same
 * Digest secret when the digest settings did not change) replaces the old one.
 */
async function applyToWorkers(
  fronts: Fronts,
  next: Config,
  o: { log: Logger; supervisor: Supervisor | undefined; pool: WorkerPool; swapped(): void },
): Promise<ReloadResult> {
  const applied = await applyConfig(fronts.running, next, {
    log: o.log,
    supervisor: o.supervisor,
    swapFront: async (c, prev) => {
      const nextSecret = JSON.stringify(prev.digest) === JSON.stringify(c.digest) ? fronts.secret : sharedSecret(c)
      await replaceWorkers(fronts, o.pool, keptForRestart(c, prev), nextSecret, o.log)
      o.swapped()
      fronts.secret = nextSecret
      return { retired: Promise.resolve() }
    },
  })
  if (applied.config.log.level !== fronts.running.log.level) o.pool.broadcast('log-level', applied.config.log.level)
  fronts.running = applied.config
  return applied.result
}

/** New providers, then new workers on them; the old ones stop once the new set serves. */
async function replaceWorkers(
  fronts: Fronts,
  pool: WorkerPool,
  c: Config,
  nextSecret: string,
  log: Logger,
): Promise<void> {
  const old = fronts.providers
  const fresh = new SharedProviders(c, log)
  try {
    await fresh.start()
    fronts.providers = fresh
    await pool.replaceAll(withSecret(c, nextSecret))
  } catch (err) {
    fronts.providers = old
    await fresh.close()
    throw err
  }
  // The old workers are gone (replaceAll waited for them): nothing asks the old providers any more.
  await old.close()
}

/** The status page summed over the workers: their activity, lockouts and memory, one row per worker. */
async function workersStatus(pool: WorkerPool, services: Services, facts: GatewayFacts): Promise<StatusReport> {
  const [activities, lockouts, memory, groups] = await Promise.all([
    pool.ask<Activity>('activity'),
    pool.ask<Lockout[] | null>('lockouts'),
    pool.ask<{ pid: number; rssBytes: number }>('memory'),
    services.groupStatus(),
  ])
  const report = gatewayStatus(facts, mergeActivity(activities), mergeLockouts(lockouts), groups)
  return {
    ...report,
    rssBytes: (report.rssBytes ?? 0) + memory.reduce((n, m) => n + m.rssBytes, 0),
    workers: pool.workers.map((w) => ({
      index: w.index,
      pid: w.pid,
      since: new Date(w.since).toISOString(),
      rssBytes: memory.find((m) => m.pid === w.pid)?.rssBytes ?? null,
    })),
  }
}

/** The admin cache flush, summed over the workers; a user's sessions (held here) end with their cached answers. */
async function flushWorkers(
  pool: WorkerPool,
  services: Services,
  user: string | undefined,
  log: Logger,
): Promise<CacheFlushResult> {
  const answers = await pool.ask<CacheFlushResult>('flush', user !== undefined ? { user } : {})
  const sum = (pick: (a: CacheFlushResult) => number) => answers.reduce((n, a) => n + pick(a), 0)
  const result: CacheFlushResult = {
    flushed: sum((a) => a.flushed),
    identities: sum((a) => a.identities),
    realmHashes: sum((a) => a.realmHashes),
  }
  if (user !== undefined && services.sessions !== undefined)
    result.sessions = await services.sessions.deleteByUser(user)
  logCacheFlush(log, user, result)
  return result
}

/**
 * What needs a restart (listen, limits, state) stays as the workers started: the primary's
 * listening handle is keyed by the address they first asked for.
 */
function keptForRestart(c: Config, prev: Config): Config {
  const { state: _state, ...rest } = c
  return { ...rest, listen: prev.listen, limits: prev.limits, ...(prev.state ? { state: prev.state } : {}) }
}

/**
 * Nonces and form tokens are signed with the Digest secret: every worker must hold the same
 * one. Without digest.secret or secretFile, the primary draws one per boot for all of them.
 */
function sharedSecret(config: Config): string {
  return config.digest.secret || config.digest.secretFile ? config.digest.secret : randomBytes(32).toString('hex')
}

function withSecret(config: Config, secret: string): Config {
  return secret === config.digest.secret ? config : { ...config, digest: { ...config.digest, secret } }
}

/** Asks every worker to re-read the listener's certificate; the first failure (or replacement) answers for all. */
async function certificateReload(pool: WorkerPool, reason: string): Promise<CertificateReload | undefined> {
  const answers = (await pool.ask<CertificateReload | null>('certificate', reason)).filter(
    (a): a is CertificateReload => a !== null,
  )
  return answers.find((a) => a.outcome === 'failed') ?? answers.find((a) => a.outcome === 'replaced') ?? answers[0]
}
