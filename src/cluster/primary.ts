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
import { createLogger } from '../log.js'
import { Supervisor } from '../daemon/supervisor.js'
import type { GroupStatus } from '../daemon/group.js'
import { GatewayMetrics } from '../metrics/gateway-metrics.js'
import type { Activity } from '../metrics/status-sampler.js'
import type { Lockout } from '../metrics/lockout-board.js'
import { applyConfig } from '../admin/config-reload.js'
import type { AdminServer } from '../admin/admin-server.js'
import { buildStatus, groupsReady, type StatusReport } from '../admin/status-report.js'
import { packageVersion } from '../package-root.js'
import type { CacheFlushResult } from '../auth/cache-flush.js'
import type { CertificateReload } from '../tls-certificate.js'
import type { RunningGateway, RunOptions } from '../running-gateway.js'
import { installSignals } from '../gateway-signals.js'
import { logCacheFlush, onHangup, reloads, restartGroup } from '../gateway-control.js'
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
  const groups = Object.values(config.groups)
  const supervisor =
    groups.length > 0 ? new Supervisor({ groups, log: log.child({ component: 'supervisor' }) }) : undefined
  const services = await primaryServices(config, supervisor, log)
  // The providers' threads, once for every worker; a reload that rebuilds the fronts gets new ones.
  let providers = new SharedProviders(config, log)
  const metrics = new GatewayMetrics()
  // The workers dispatch: what is in flight and waiting is asked of them at each scrape.
  let scrapedGroups: GroupStatus[] | undefined
  metrics.setSources({
    cache: () => undefined,
    groups: () => scrapedGroups ?? supervisor?.status() ?? [],
    providerRests: () => providers.registry.rests(),
  })
  const pool = new WorkerPool({
    size: config.workers,
    log,
    startTimeoutMs: WORKER_START_TIMEOUT_MS,
    stopTimeoutMs: DRAIN_TIMEOUT_MS,
    attach: (channel) => {
      const undo = [services.attach(channel), providers.attach(channel)]
      return () => undo.forEach((f) => f())
    },
    ...(opts.workerOutput ? { output: opts.workerOutput } : {}),
  })
  metrics.addWorkerSources({ workers: () => pool.workers.length, crashes: () => pool.crashes })
  // `running` is the configuration as the file has it; the workers get it with `secret`.
  let running = config
  let secret = sharedSecret(config)
  let address: string
  try {
    await supervisor?.start()
    await services.start()
    await providers.start()
    address = await pool.start(withSecret(running, secret))
  } catch (err) {
    await pool.stop().catch(() => {})
    await supervisor?.close().catch(() => {})
    await providers.close()
    await services.close()
    throw err
  }
  log.info({ address, workers: config.workers }, 'front workers listening')

  let swapped = false
  const reloader = reloads({
    log,
    metrics,
    configFile: opts.configFile,
    async apply(next) {
      swapped = false
      const applied = await applyConfig(running, next, {
        log,
        supervisor,
        swapFront: async (c, prev) => {
          // A new set of workers, on the same Digest secret when the digest settings did not change.
          const nextSecret = JSON.stringify(prev.digest) === JSON.stringify(c.digest) ? secret : sharedSecret(c)
          await replaceWorkers(keptForRestart(c, prev), nextSecret)
          swapped = true
          secret = nextSecret
          return { retired: Promise.resolve() }
        },
      })
      if (applied.config.log.level !== running.log.level) pool.broadcast('log-level', applied.config.log.level)
      running = applied.config
      return applied.result
    },
    // New workers read the certificate as they start; the ones kept are asked to re-read it.
    certificate: (reason) => (swapped ? undefined : certificateReload(pool, reason)),
  })
  const reload = reloader.reload
  /** New providers, then new workers on them; the old ones stop once the new set serves. */
  const replaceWorkers = async (c: Config, nextSecret: string): Promise<void> => {
    const old = providers
    const fresh = new SharedProviders(c, log)
    try {
      await fresh.start()
      providers = fresh
      await pool.replaceAll(withSecret(c, nextSecret))
    } catch (err) {
      providers = old
      await fresh.close()
      throw err
    }
    // The old workers are gone (replaceAll waited for them): nothing asks the old providers any more.
    await old.close()
  }

  const readiness = () => {
    if (stopping) return { ready: false, problems: ['stopping'] }
    const r = groupsReady(supervisor?.status() ?? [])
    const missing = config.workers - pool.workers.length
    if (missing > 0) r.problems.push(`${missing} of ${config.workers} front workers not running`)
    return { ready: r.problems.length === 0 && r.ready, problems: r.problems }
  }
  const status = async (): Promise<StatusReport> => {
    const [activities, lockouts, memory, groups] = await Promise.all([
      pool.ask<Activity>('activity'),
      pool.ask<Lockout[] | null>('lockouts'),
      pool.ask<{ pid: number; rssBytes: number }>('memory'),
      services.groupStatus(),
    ])
    const report = buildStatus({
      version: packageVersion(),
      startedAt,
      listen: address,
      configFile: opts.configFile,
      ready: readiness().ready,
      lastConfigReload: reloader.last(),
      groups,
      activity: mergeActivity(activities),
      lockouts: mergeLockouts(lockouts),
    })
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

  let resolveStopped!: (code: number) => void
  const stopped = new Promise<number>((r) => (resolveStopped = r))
  let stopping: Promise<void> | undefined
  let admin: AdminServer | undefined
  const stop = (code = 0) => {
    stopping ??= (async () => {
      log.info('stopping: draining the front workers')
      await pool.stop()
      await providers.close()
      await supervisor?.close()
      await services.close()
      await admin?.close().catch(() => {})
      log.info('stopped')
      resolveStopped(code)
    })()
    return stopping
  }

  try {
    if (config.admin) {
      // Fastify is loaded for the admin listener only: the primary serves nothing else over HTTP.
      const { startAdmin } = await import('../admin/admin-server.js')
      admin = await startAdmin(
        config.admin,
        {
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
          async flushCache(user) {
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
        certificate: (reason) => certificateReload(pool, reason),
        supervisor,
      }),
    })

  return {
    get gatehouse(): never {
      throw errors.GH_ERR_OPT_INVALID('with workers: above 1 the fronts run in the front worker processes')
    },
    supervisor,
    address,
    metrics,
    workers: () => pool.workers.map((w) => ({ index: w.index, pid: w.pid })),
    get adminAddress() {
      return admin?.address
    },
    status,
    reload,
    stop: () => stop(0),
    untilStopped: () => stopped,
  }
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
