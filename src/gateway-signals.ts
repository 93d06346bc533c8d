/**
 * The process signals of a running gateway (the CLI installs them; tests and embedders may not):
 * SIGTERM and SIGINT stop gracefully, a second one exits at once; SIGHUP reloads.
 */
import type { Logger } from 'pino'

export interface SignalActions {
  stop(): unknown
  stopping(): boolean
  hup(): void
}

export function installSignals(log: Logger, on: SignalActions): void {
  const onStop = (sig: NodeJS.Signals) => {
    if (on.stopping()) {
      log.warn({ signal: sig }, 'second signal: exiting now')
      process.exit(1)
    }
    on.stop()
  }
  process.on('SIGTERM', onStop)
  process.on('SIGINT', onStop)
  process.on('SIGHUP', () => on.hup())
}
