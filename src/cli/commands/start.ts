/**
 * `gatehouse start --config FILE`: loads the configuration, starts daemon groups and
 * providers, listens. SIGTERM/SIGINT stop gracefully (a second one stops at once); SIGHUP
 * re-reads the configuration file and applies it (as `gatehouse reload`).
 */
import { loadConfigFile } from '../../config/load-file.js'
import { runGateway } from '../../gateway.js'
import { parseFlags, type CliIO } from '../flags.js'
import { isGatehouseError } from '../../errors.js'
import type { Config } from '../../config/types.js'
import { explainStartError } from '../start-errors.js'

export async function startCommand(args: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(
    args,
    { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
    'start',
  )
  if (values.help || !values.config) {
    io.stdout(
      'Usage: gatehouse start --config FILE\n\nRuns the gateway. Signals: SIGTERM/SIGINT graceful stop; SIGHUP re-reads the configuration and applies it (as `gatehouse reload`).\nWith an admin: section, `gatehouse status|restart|reload|stop --config FILE` steer it (docs/operations.md).\n',
    )
    return values.help ? 0 : 2
  }
  let config: Config | undefined
  try {
    config = await loadConfigFile(values.config)
    const gw = await runGateway(config, { configFile: values.config })
    io.stderr(`gatehouse listening on ${gw.address}\n`)
    if (gw.adminAddress) io.stderr(`gatehouse admin on ${gw.adminAddress}\n`)
    return await gw.untilStopped()
  } catch (err) {
    const explained = explainStartError(err, config, values.config)
    if (explained !== undefined) {
      io.stderr(`gatehouse: ${explained}\n`)
      return 1
    }
    if (!isGatehouseError(err)) throw err
    io.stderr(`gatehouse: ${err.message}\n`)
    return 1
  }
}
