/** `gatehouse status`: the groups and processes of a running gateway (like passenger-status). */
import { adminRequest, jsonBody } from '../../admin/admin-client.js'
import type { StatusReport } from '../../admin/status-report.js'
import { statusText } from '../../admin/status-text.js'
import { errors } from '../../errors.js'
import { ADMIN_OPTIONS_HELP, runAdminCommand } from '../admin-flags.js'
import type { CliIO } from '../flags.js'

const USAGE = `Usage: gatehouse status [--config FILE | --admin URL|SOCKET] [--json]

Shows a running gateway: version, pid, uptime, memory, readiness, the last configuration
reload, and for each daemon group its processes (pid, state, requests in flight and served,
memory, uptime), queue, restarts, reloads and the last reload with its reason.

  --json                print the report as JSON (what GET /status.json answers)
${ADMIN_OPTIONS_HELP}
Exit status: 0 shown, 1 the gateway did not answer, 2 usage.
`

export function statusCommand(args: string[], io: CliIO): Promise<number> {
  return runAdminCommand(args, io, USAGE, { json: true, positionals: 0 }, async (target, _p, json) => {
    const res = await adminRequest(target, 'GET', '/status.json')
    if (res.status !== 200) throw errors.GH_ERR_ADMIN_REFUSED(target.where, res.status, res.body.trim().slice(0, 200))
    const report = jsonBody<StatusReport>(target, res)
    io.stdout(json ? `${JSON.stringify(report, null, 2)}\n` : statusText(report))
    return 0
  })
}
