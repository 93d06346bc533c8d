/** `gatehouse restart GROUP`: rolling restart of one daemon group of a running gateway. */
import { adminRequest, jsonBody } from '../../admin/admin-client.js'
import { ADMIN_OPTIONS_HELP, runAdminCommand } from '../admin-flags.js'
import type { CliIO } from '../flags.js'

const USAGE = `Usage: gatehouse restart GROUP [--config FILE | --admin URL|SOCKET]

Rolling restart of the daemon group GROUP: new processes start, and once they are ready they
take new requests while the old ones finish theirs and stop (what touching the group's app
file does). If the new processes fail to start, the old ones keep serving and this exits 1.
Other groups are not touched.

${ADMIN_OPTIONS_HELP}
Exit status: 0 restarted, 1 failed, unknown group or gateway not answering, 2 usage.
`

export function restartCommand(args: string[], io: CliIO): Promise<number> {
  return runAdminCommand(args, io, USAGE, { positionals: 1 }, async (target, [group]) => {
    const res = await adminRequest(target, 'POST', `/groups/${encodeURIComponent(group!)}/restart`)
    const body = jsonBody<{ restarted?: boolean; error?: string }>(target, res)
    if (res.status === 200 && body.restarted) {
      io.stdout(`group ${group} restarted\n`)
      return 0
    }
    io.stderr(`gatehouse: restart ${group}: ${body.error ?? `status ${res.status}`}\n`)
    return 1
  })
}
