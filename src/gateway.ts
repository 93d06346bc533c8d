/**
 * The whole gateway process: daemon groups (when configured), providers, the front server,
 * and the process signals. `gatehouse start` and the demo both run through here.
 */
import type { Logger } from 'pino'
import type { Config } from './config-types.js'
import { createGatehouse, type Gatehouse } from './server.js'
import { createLogger } from './log.js'
import { Supervisor } from './daemon/supervisor.js'
import { GroupTarget } from './proxy/group-target.js'
import type { Target } from './proxy/target.js'

export interface RunningGateway {
  readonly gatehouse: Gatehouse
  readonly supervisor: Supervisor | undefined
  readonly address: string
  /** Graceful stop: stop accepting, drain, stop children. Idempotent. */
  stop(): Promise<void>
  /** Resolves with the exit code once a signal or stop() ended the gateway. */
  untilStopped(): Promise<number>
}

export interface RunOptions {
  logger?: Logger
  /** Install SIGTERM/SIGINT/SIGHUP handlers (the CLI does; tests and embedders may not). */
  signals?: boolean
}

export async function runGateway(config: Config, opts: RunOptions = {}): Promise<RunningGateway> {
  const log = opts.logger ?? createLogger(config.log.level)
  const groups = Object.values(config.groups)
  const supervisor = groups.length > 0 ? new Supervisor({ groups, log: log.child({ component: 'supervisor' }) }) : undefined
  const groupTargets = new Map<string, Target>()
  let gatehouse: Gatehouse | undefined
  let address: string
  try {
    await supervisor?.start()
    for (const g of groups) groupTargets.set(g.name, new GroupTarget(supervisor!.group(g.name), { fileRoots: g.fileRoots, log }))
    gatehouse = await createGatehouse(config, { logger: log, groupTargets, supervisor })
    address = await gatehouse.listen()
  } catch (err) {
    await gatehouse?.close().catch(() => {})
    await supervisor?.close().catch(() => {})
    throw err
  }
  const gh = gatehouse
  let resolveStopped!: (code: number) => void
  const stopped = new Promise<number>((r) => (resolveStopped = r))
  let stopping: Promise<void> | undefined
  const stop = (code = 0) => {
    stopping ??= (async () => {
      log.info('stopping: draining connections')
      await gh.close()
      await supervisor?.close()
      log.info('stopped')
      resolveStopped(code)
    })()
    return stopping
  }
  if (opts.signals !== false) {
    const onSignal = (sig: NodeJS.Signals) => {
      if (stopping) {
        log.warn({ signal: sig }, 'second signal: exiting now')
        process.exit(1)
      }
      void stop(0)
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
    process.on('SIGHUP', () => {
      log.info('SIGHUP: rolling reload of every daemon group')
      supervisor?.reloadAll('SIGHUP').catch((err: Error) => log.error({ err: err.message }, 'reload failed'))
    })
  }
  return { gatehouse: gh, supervisor, address, stop: () => stop(0), untilStopped: () => stopped }
}
