/**
 * What the two ways of running the gateway (the front in this process, or the primary of front
 * workers) do alike: configuration reloads one at a time, each re-reading the file, applying it
 * with src/admin/config-reload.ts, re-reading the certificate, and reported (status page,
 * metric, log line); the admin listener's group restart and cache-flush record; SIGHUP; and the
 * lifecycle (one stop, the admin listener closed last, the signals, the RunningGateway handle).
 */
import type { Logger } from 'pino'
import type { Config } from './config/types.js'
import { Supervisor } from './daemon/supervisor.js'
import type { GroupStatus } from './daemon/group.js'
import type { GatewayMetrics } from './metrics/gateway-metrics.js'
import type { AdminControl, AdminServer, ReloadResult } from './admin/admin-server.js'
import { buildStatus, groupsReady, type StatusInputs, type StatusReport } from './admin/status-report.js'
import { packageVersion } from './package-root.js'
import { installSignals } from './gateway-signals.js'
import type { Gatehouse } from './server.js'
import type { ConfigReloadReport } from './admin/status-report.js'
import type { CacheFlushResult } from './auth/cache-flush.js'
import type { CertificateReload } from './tls-certificate.js'
import { withCertificate, type RunningGateway, type RunOptions } from './running-gateway.js'

export interface ReloadSteps {
  log: Logger
  metrics: GatewayMetrics
  /** The file the gateway was started from, re-read by each reload not given a configuration. */
  configFile: string | undefined
  /** Applies a configuration read or given; throws or reports a failure without applying it. */
  apply(next: Config): Promise<ReloadResult>
  /** Re-reads the listener's certificate after apply (undefined: nothing to re-read). */
  certificate(reason: string): CertificateReload | undefined | Promise<CertificateReload | undefined>
}

export interface Reloads {
  /** Queued behind a reload under way; never rejects. */
  reload(reason: string, given?: Config): Promise<ReloadResult>
  /** The last reload, for the status page; null before the first. */
  last(): ConfigReloadReport | null
}

export function reloads(steps: ReloadSteps): Reloads {
  let last: ConfigReloadReport | null = null
  let queue: Promise<ReloadResult> = Promise.resolve({ ok: true, summary: '', changes: [], restartNeeded: [] })
  const once = async (reason: string, given?: Config): Promise<ReloadResult> => {
    let result: ReloadResult
    try {
      const next =
        given ??
        (steps.configFile ? await (await import('./config/load-file.js')).loadConfigFile(steps.configFile) : undefined)
      result =
        next === undefined
          ? {
              ok: false,
              summary: 'the gateway was not started from a configuration file',
              changes: [],
              restartNeeded: [],
            }
          : await steps.apply(next)
    } catch (err) {
      result = { ok: false, summary: (err as Error).message, changes: [], restartNeeded: [] }
    }
    result = withCertificate(result, await steps.certificate(reason))
    last = { at: new Date().toISOString(), ok: result.ok, summary: result.summary }
    steps.metrics.configReload(result.ok ? 'ok' : 'failed')
    steps.log[result.ok ? 'info' : 'error'](
      { reason, changes: result.changes, restartNeeded: result.restartNeeded },
      `configuration reload: ${result.summary}`,
    )
    return result
  }
  return {
    reload(reason, given) {
      queue = queue.then(() => once(reason, given))
      return queue
    },
    last: () => last,
  }
}

/** The admin listener's `restart GROUP`: undefined for a group the gateway does not run. */
export function restartGroup(supervisor: Supervisor | undefined) {
  return async (name: string): Promise<boolean | undefined> => {
    if (!supervisor?.status().some((g) => g.name === name)) return undefined
    return supervisor.reload(name, 'restart command')
  }
}

/** The log line of an admin cache flush (the user's name, never a credential). */
export function logCacheFlush(log: Logger, user: string | undefined, result: CacheFlushResult): void {
  log.info(
    {
      ...(user !== undefined ? { user } : {}),
      flushed: result.flushed,
      ...(result.sessions !== undefined ? { sessionsEnded: result.sessions } : {}),
    },
    'credential cache flushed (admin command)',
  )
}

/**
 * SIGHUP: re-read the configuration file (as `gatehouse reload`); a gateway started without one
 * re-reads its certificate and rolls every daemon group instead.
 */
export function onHangup(
  log: Logger,
  o: {
    configFile: string | undefined
    reload(reason: string): unknown
    certificate(reason: string): unknown
    supervisor: Supervisor | undefined
  },
): () => void {
  return () => {
    if (o.configFile) {
      log.info('SIGHUP: re-reading the configuration')
      void o.reload('SIGHUP')
      return
    }
    log.info('SIGHUP: rolling reload of every daemon group')
    void o.certificate('SIGHUP')
    o.supervisor?.reloadAll('SIGHUP').catch((err: Error) => log.error({ err: err.message }, 'reload failed'))
  }
}

/** What the status page tells of the gateway itself, with or without front workers. */
export interface GatewayFacts {
  startedAt: number
  address: string
  configFile: string | undefined
  readiness(): { ready: boolean }
  reloads: Reloads
  supervisor: Supervisor | undefined
}

/** The status page: the gateway's own facts, and the activity and lockouts its fronts report. */
export function gatewayStatus(
  g: GatewayFacts,
  activity: StatusInputs['activity'],
  lockouts: StatusInputs['lockouts'],
  groups: StatusInputs['groups'] = g.supervisor?.status() ?? [],
): StatusReport {
  return buildStatus({
    version: packageVersion(),
    startedAt: g.startedAt,
    listen: g.address,
    configFile: g.configFile,
    ready: g.readiness().ready,
    lastConfigReload: g.reloads.last(),
    groups,
    activity,
    lockouts,
  })
}

/** The supervisor of the configured daemon groups; undefined when there are none. */
export function groupSupervisor(config: Config, log: Logger): Supervisor | undefined {
  const groups = Object.values(config.groups)
  return groups.length > 0 ? new Supervisor({ groups, log: log.child({ component: 'supervisor' }) }) : undefined
}

/**
 * One stop for the gateway, whoever asks (a signal, the admin listener, the caller): the
 * gateway's own shutdown, then the admin listener, then the exit code to untilStopped().
 */
export class GatewayLifecycle {
  readonly #log: Logger
  readonly #draining: string
  readonly #shutdown: () => Promise<void>
  #stopping: Promise<void> | undefined
  #admin: AdminServer | undefined
  #resolveStopped!: (code: number) => void
  readonly #stopped = new Promise<number>((r) => (this.#resolveStopped = r))

  /** `draining` completes the log line "stopping: ..."; `shutdown` stops all but the admin listener. */
  constructor(log: Logger, draining: string, shutdown: () => Promise<void>) {
    this.#log = log
    this.#draining = draining
    this.#shutdown = shutdown
  }

  get stopping(): boolean {
    return this.#stopping !== undefined
  }

  get adminAddress(): string | undefined {
    return this.#admin?.address
  }

  /** Idempotent: every caller waits on the same stop; the first one's code is the exit code. */
  stop(code = 0): Promise<void> {
    this.#stopping ??= (async () => {
      this.#log.info(`stopping: ${this.#draining}`)
      await this.#shutdown()
      // Last, so `gatehouse stop` (which waits for the admin interface to go) returns once all is down.
      await this.#admin?.close().catch(() => {})
      this.#log.info('stopped')
      this.#resolveStopped(code)
    })()
    return this.#stopping
  }

  untilStopped(): Promise<number> {
    return this.#stopped
  }

  /** Not ready while stopping, nor while a daemon group is. */
  readiness(supervisor: { status(): GroupStatus[] } | undefined): { ready: boolean; problems: string[] } {
    return this.stopping ? { ready: false, problems: ['stopping'] } : groupsReady(supervisor?.status() ?? [])
  }

  /** Starts the admin listener when configured; one that does not start stops the gateway (code 1) and throws. */
  async startAdmin(config: Config['admin'], control: Omit<AdminControl, 'stop'>): Promise<void> {
    if (!config) return
    try {
      // Fastify is loaded here for the admin listener: a primary serves nothing else over HTTP.
      const { startAdmin } = await import('./admin/admin-server.js')
      this.#admin = await startAdmin(config, { ...control, stop: () => void this.stop(0) }, this.#log)
      this.#log.info({ address: this.#admin.address }, 'admin listener ready')
    } catch (err) {
      await this.stop(1)
      throw err
    }
  }

  /** SIGTERM and SIGINT stop, SIGHUP reloads (onHangup); not when the caller asked for no signals. */
  installSignals(opts: RunOptions, hangup: Omit<Parameters<typeof onHangup>[1], 'configFile'>): void {
    if (opts.signals === false) return
    installSignals(this.#log, {
      stop: () => void this.stop(0),
      stopping: () => this.stopping,
      hup: onHangup(this.#log, { configFile: opts.configFile, ...hangup }),
    })
  }

  /** The caller's handle on the gateway: the parts given, and this lifecycle's stop. */
  running(
    p: Omit<RunningGateway, 'gatehouse' | 'adminAddress' | 'stop' | 'untilStopped'> & { gatehouse(): Gatehouse },
  ): RunningGateway {
    const adminAddress = (): string | undefined => this.adminAddress
    return {
      get gatehouse() {
        return p.gatehouse()
      },
      supervisor: p.supervisor,
      address: p.address,
      metrics: p.metrics,
      get adminAddress() {
        return adminAddress()
      },
      status: p.status,
      workers: p.workers,
      reload: p.reload,
      stop: () => this.stop(0),
      untilStopped: () => this.untilStopped(),
    }
  }
}
