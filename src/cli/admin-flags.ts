/**
 * Flags and error handling shared by the commands that talk to a running gateway's admin
 * interface (status, restart, reload, cache flush, stop). Exit codes: 0 done, 1 failed or unreachable, 2 usage.
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
  extra: { json?: boolean; positionals: number; strings?: readonly string[] },
  run: (
    target: AdminTarget,
    positionals: string[],
    json: boolean,
    strings: Record<string, string | undefined>,
  ) => Promise<number>,
): Promise<number> {
  let parsed
  const options: NonNullable<Parameters<typeof parseFlags>[1]> = { ...adminOptions }
  if (extra.json) options.json = { type: 'boolean' }
  for (const name of extra.strings ?? []) options[name] = { type: 'string' }
  try {
    parsed = parseFlags(args, options, /gatehouse ([\w-]+)/.exec(usage)?.[1])
  } catch (err) {
    io.stderr(`gatehouse: ${(err as Error).message}\n`)
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
    const strings = Object.fromEntries((extra.strings ?? []).map((name) => [name, values[name] as string | undefined]))
    return await run(target, positionals, Boolean((values as { json?: boolean }).json), strings)
  } catch (err) {
    if (!isGatehouseError(err)) throw err
    io.stderr(`gatehouse: ${err.message}\n`)
    return err.code === 'GH_ERR_CLI_USAGE' ? 2 : 1
  }
}
