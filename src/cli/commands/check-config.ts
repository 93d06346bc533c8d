import { loadConfigFile } from '../../config/load-file.js'
import { checkConfigFiles } from '../../config/check-files.js'
import { parseFlags, type CliIO } from '../flags.js'
import { isGatehouseError } from '../../errors.js'

export async function checkConfigCommand(args: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(
    args,
    { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
    'check-config',
  )
  if (values.help || !values.config) {
    io.stdout(
      'Usage: gatehouse check-config --config FILE\n\nValidates FILE (YAML or JSON) and opens everything it names as `start` would: htpasswd/htdigest\nand group files, SQLite and Django databases (read-only), digest.secretFile, the TLS certificate\nand key, each group\'s app and interpreter, and PINGs state.redis. Prints "ok" and exits 0, or prints every problem with\nits key path and a fix and exits 1.\n',
    )
    return values.help ? 0 : 2
  }
  try {
    const config = await loadConfigFile(values.config)
    const problems = [
      ...checkConfigFiles(config),
      ...(config.state ? await (await import('../../state/check-store.js')).checkStateStore(config) : []),
    ]
    if (problems.length > 0) {
      for (const p of problems) io.stderr(`${values.config}: ${p.key}: ${p.problem}\n  fix: ${p.fix}\n`)
      io.stderr(
        `gatehouse: ${problems.length} problem${problems.length === 1 ? '' : 's'} in ${values.config}; start would fail\n`,
      )
      return 1
    }
    io.stdout(
      `ok: ${config.routes.length} routes, ${Object.keys(config.providers).length} providers, ${Object.keys(config.groups).length} groups\n`,
    )
    return 0
  } catch (err) {
    if (!isGatehouseError(err)) throw err
    io.stderr(`${values.config}: ${err.message.replace(/; /g, '\n  ')}\n`)
    return 1
  }
}
