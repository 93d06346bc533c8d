/**
 * `gatehouse start --config FILE`: loads the configuration, starts daemon groups and
 * providers, listens. SIGTERM/SIGINT stop gracefully (a second one stops at once); SIGHUP
 * reloads every daemon group as a rolling restart.
 */
import { loadConfigFile } from '../../config-file.js'
import { runGateway } from '../../gateway.js'
import { parseFlags, type CliIO } from '../flags.js'
import { isGatehouseError } from '../../errors.js'

export async function startCommand(args: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(args, { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } })
  if (values.help || !values.config) {
    io.stdout('Usage: gatehouse start --config FILE\n\nRuns the gateway. Signals: SIGTERM/SIGINT graceful stop; SIGHUP rolling reload of every daemon group.\n')
    return values.help ? 0 : 2
  }
  try {
    const config = await loadConfigFile(values.config)
    const gw = await runGateway(config)
    io.stderr(`gatehouse listening on ${gw.address}\n`)
    return await gw.untilStopped()
  } catch (err) {
    if (!isGatehouseError(err)) throw err
    io.stderr(`gatehouse: ${err.message}\n`)
    return 1
  }
}
