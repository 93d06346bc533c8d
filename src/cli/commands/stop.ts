/** `gatehouse stop`: graceful stop of a running gateway (what SIGTERM does). */
import { setTimeout as sleep } from 'node:timers/promises'
import { adminRequest, jsonBody } from '../../admin/admin-client.js'
import { isGatehouseError } from '../../errors.js'
import { ADMIN_OPTIONS_HELP, runAdminCommand } from '../admin-flags.js'
import type { CliIO } from '../flags.js'

const USAGE = `Usage: gatehouse stop [--config FILE | --admin URL|SOCKET]

Graceful stop, as SIGTERM: the gateway stops accepting connections, lets requests in flight
finish (each group's gracefulTimeout), stops its daemon processes and exits 0. Waits until
the admin interface stops answering (at most 2 minutes).

${ADMIN_OPTIONS_HELP}
Exit status: 0 stopped, 1 the gateway did not answer or did not stop in time, 2 usage.
`

const WAIT_MS = 120_000

export function stopCommand(args: string[], io: CliIO): Promise<number> {
  return runAdminCommand(args, io, USAGE, { positionals: 0 }, async (target) => {
    const res = await adminRequest(target, 'POST', '/stop')
    const body = jsonBody<{ stopping?: boolean }>(target, res)
    if (res.status !== 202 || !body.stopping) {
      io.stderr(`gatehouse: stop: status ${res.status}\n`)
      return 1
    }
    io.stdout('gatehouse is stopping\n')
    const until = Date.now() + WAIT_MS
    while (Date.now() < until) {
      try {
        await adminRequest(target, 'GET', '/healthz', 2_000)
      } catch (err) {
        if (isGatehouseError(err, 'GH_ERR_ADMIN_UNREACHABLE')) {
          io.stdout('gatehouse stopped\n')
          return 0
        }
        throw err
      }
      await sleep(100)
    }
    io.stderr('gatehouse: stop: still answering after 2 minutes\n')
    return 1
  })
}
