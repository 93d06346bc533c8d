/**
 * What the two ways of running the gateway (the front in this process, or the primary of front
 * workers) do alike: configuration reloads one at a time, each re-reading the file, applying it
 * with src/admin/config-reload.ts, re-reading the certificate, and reported (status page,
 * metric, log line); the admin listener's group restart and cache-flush record; and SIGHUP.
 */
import type { Logger } from 'pino'
import type { Config } from './config/types.js'
import type { Supervisor } from './daemon/supervisor.js'
import type { GatewayMetrics } from './metrics/gateway-metrics.js'
import type { ReloadResult } from './admin/admin-server.js'
import type { ConfigReloadReport } from './admin/status-report.js'
import type { CacheFlushResult } from './auth/cache-flush.js'
import type { CertificateReload } from './tls-certificate.js'
import { withCertificate } from './running-gateway.js'

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
