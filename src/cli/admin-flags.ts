/**
 * Flags and error handling shared by the commands that talk to a running gateway's admin
 * interface (status, restart, reload, stop). Exit codes: 0 done, 1 failed or unreachable, 2 usage.
 */
import { isGatehouseError } from '../errors.js'
import { adminTarget, type AdminTarget } from '../admin/admin-client.js'
import { parseFlags, type CliIO } from './flags.js'

export const ADMIN_OPTIONS_HELP = `Where the gateway is (one of):
  --admin URL|SOCKET    http://127.0.0.1:9090, or the path of the admin unix socket
  --config FILE, -c     the gateway's configuration: its admin: section (default ./gatehouse.yaml)
Token (when admin.token or admin.tokenFile is set):
  --token-file FILE     read the bearer token from FILE
  GATEHOUSE_ADMIN_TOKEN environment variable; else the token of --config is used
`

const adminOptions = {
  admin: { type: 'string' },
  config: { type: 'string', short: 'c' },
  'token-file': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

export async function runAdminCommand(
  args: string[],
  io: CliIO,
  usage: string,
  extra: { json?: boolean; positionals: number },
  run: (target: AdminTarget, positionals: string[], json: boolean) => Promise<number>,
): Promise<number> {
  let parsed
  try {
    parsed = parseFlags(args, extra.json ? { ...adminOptions, json: { type: 'boolean' } } : adminOptions)
  } catch (err) {
    io.stderr(`gatehouse: ${(err as Error).message}\n\n${usage}`)
    return 2
  }
  const { values, positionals } = parsed
  if (values.help) {
    io.stdout(usage)
    return 0
  }
  if (positionals.length !== extra.positionals) {
    io.stderr(usage)
    return 2
  }
  try {
    const target = await adminTarget(values as { admin?: string; config?: string; 'token-file'?: string })
    return await run(target, positionals, Boolean((values as { json?: boolean }).json))
  } catch (err) {
    if (!isGatehouseError(err)) throw err
    io.stderr(`gatehouse: ${err.message}\n`)
    return err.code === 'GH_ERR_CLI_USAGE' ? 2 : 1
  }
}
