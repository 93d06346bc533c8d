/** `gatehouse reload`: the running gateway re-reads its configuration file and applies it. */
import { adminRequest, jsonBody } from '../../admin/admin-client.js'
import type { ReloadResult } from '../../admin/admin-server.js'
import { ADMIN_OPTIONS_HELP, runAdminCommand } from '../admin-flags.js'
import type { CliIO } from '../flags.js'

const USAGE = `Usage: gatehouse reload [--config FILE | --admin URL|SOCKET] [--json]

The running gateway re-reads the configuration file it was started with and applies it
without closing its port or dropping a request (SIGHUP does the same):
  - daemon groups added are started, groups removed drain and stop, groups whose settings
    changed get a rolling restart onto them; unchanged groups are not touched;
  - routes, providers, the sidecar and the credential cache are rebuilt beside the running
    ones and take over new requests; the old ones finish theirs;
  - listen, admin and limits need a restart: they are reported, not applied.
An invalid file changes nothing. See docs/operations.md.

  --json                print the gateway's answer as JSON
${ADMIN_OPTIONS_HELP}
Exit status: 0 applied, 1 invalid configuration or (partly) failed, 2 usage.
`

export function reloadCommand(args: string[], io: CliIO): Promise<number> {
  return runAdminCommand(args, io, USAGE, { json: true, positionals: 0 }, async (target, _p, json) => {
    const res = await adminRequest(target, 'POST', '/reload')
    const result = jsonBody<ReloadResult>(target, res)
    if (json) {
      io.stdout(`${JSON.stringify(result, null, 2)}\n`)
    } else {
      const lines = [
        `reload: ${result.summary}`,
        ...result.changes.map((c) => `  ${c}`),
        ...result.restartNeeded.map((c) => `  not applied: ${c}`),
      ]
      ;(result.ok ? io.stdout : io.stderr)(`${lines.join('\n')}\n`)
    }
    return res.status === 200 && result.ok ? 0 : 1
  })
}
