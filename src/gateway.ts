/**
 * Runs the gateway: the daemon groups (when configured), providers, the front server, metrics,
 * the admin listener and the process signals. `gatehouse start` and the demo both run through
 * here. With `workers:` above 1, this process becomes the primary of that many front worker
 * processes (src/cluster/primary.ts); otherwise the front runs in it
 * (src/single-process-gateway.ts). Each is imported only when it runs: the primary never loads
 * the front's modules.
 */
import type { Config } from './config/types.js'
import type { RunningGateway, RunOptions } from './running-gateway.js'

export type { RunningGateway, RunOptions } from './running-gateway.js'

export async function runGateway(config: Config, opts: RunOptions = {}): Promise<RunningGateway> {
  if (config.workers > 1) return (await import('./cluster/primary.js')).runPrimary(config, opts)
  return (await import('./single-process-gateway.js')).runSingleProcess(config, opts)
}
