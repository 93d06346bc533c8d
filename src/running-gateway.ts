/**
 * What a running gateway offers its caller (the CLI, tests, embedders), whether its front runs
 * in the gatehouse process (src/gateway.ts) or in front workers (src/cluster/primary.ts).
 */
import type { Logger } from 'pino'
import type { Config } from './config/types.js'
import type { Gatehouse } from './server.js'
import type { Supervisor } from './daemon/supervisor.js'
import type { GatewayMetrics } from './metrics/gateway-metrics.js'
import type { ReloadResult } from './admin/admin-server.js'
import type { StatusReport } from './admin/status-report.js'
import type { CertificateReload } from './tls-certificate.js'

export interface RunningGateway {
  /** The front serving new requests (a configuration reload replaces it). */
  readonly gatehouse: Gatehouse
  readonly supervisor: Supervisor | undefined
  readonly address: string
  readonly metrics: GatewayMetrics
  /** http://host:port or unix:PATH of the admin listener, when `admin:` is configured. */
  readonly adminAddress: string | undefined
  status(): StatusReport | Promise<StatusReport>
  /** With front workers: their slots and process ids (empty when the front runs in this process). */
  workers(): Array<{ index: number; pid: number }>
  /** Re-reads the configuration file (or applies `config`) without dropping connections. */
  reload(reason: string, config?: Config): Promise<ReloadResult>
  /** Graceful stop: stop accepting, drain, stop children. Idempotent. */
  stop(): Promise<void>
  /** Resolves with the exit code once a signal or stop() ended the gateway. */
  untilStopped(): Promise<number>
}

export interface RunOptions {
  logger?: Logger
  /** Install SIGTERM/SIGINT/SIGHUP handlers (the CLI does; tests and embedders may not). */
  signals?: boolean
  /** The file the configuration came from: reload re-reads it. */
  configFile?: string
  /**
   * With front workers: where their log lines go. By default they write to the gatehouse
   * process's own stdout and stderr; given a function, each line is handed to it instead.
   */
  workerOutput?: (line: string, worker: number) => void
}

/**
 * A reload re-reads the listener's certificate whatever became of the configuration (a certbot
 * deploy hook sends SIGHUP for the certificate alone); a pair that did not load fails the reload.
 */
export function withCertificate(result: ReloadResult, cert: CertificateReload | undefined): ReloadResult {
  if (cert === undefined || cert.outcome === 'unchanged') return result
  if (cert.outcome === 'replaced')
    return { ...result, changes: [...result.changes, `listen.tls: certificate reloaded (serial ${cert.serial})`] }
  return {
    ...result,
    ok: false,
    summary: `${result.summary}; ${cert.error.message} (the current certificate keeps serving)`,
  }
}
