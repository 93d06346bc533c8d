import { loadConfigFile } from '../../config-file.js'
import { parseFlags, type CliIO } from '../flags.js'
import { isGatehouseError } from '../../errors.js'

export async function checkConfigCommand(args: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(args, { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } })
  if (values.help || !values.config) {
    io.stdout('Usage: gatehouse check-config --config FILE\n\nValidates FILE (YAML or JSON). Prints "ok" and exits 0, or prints each problem with its key path and exits 1.\n')
    return values.help ? 0 : 2
  }
  try {
    const config = await loadConfigFile(values.config)
    io.stdout(`ok: ${config.routes.length} routes, ${Object.keys(config.providers).length} providers, ${Object.keys(config.groups).length} groups\n`)
    return 0
  } catch (err) {
    if (!isGatehouseError(err)) throw err
    io.stderr(`${values.config}: ${err.message.replace(/; /g, '\n  ')}\n`)
    return 1
  }
}
