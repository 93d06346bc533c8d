/** `gatehouse cache flush [--user NAME]`: empties the running gateway's credential cache. */
import { adminRequest, jsonBody } from '../../admin/admin-client.js'
import type { CacheFlushResult } from '../../auth/cache-flush.js'
import { errors } from '../../errors.js'
import { ADMIN_OPTIONS_HELP, runAdminCommand } from '../admin-flags.js'
import type { CliIO } from '../flags.js'

const USAGE = `Usage: gatehouse cache flush [--user NAME] [--config FILE | --admin URL|SOCKET] [--json]

Empties the running gateway's credential cache, so the next request of each client is checked
by its provider again. With --user NAME only NAME's entries go (every route, scheme and
provider: Basic successes, Digest hashes, groups); without it, all of them. Prints how many
entries were dropped.

The htpasswd, htdigest, sqlite and django providers empty their own entries when their data
changes (within 2 s); flush after changing a password in a store gatehouse cannot watch (a
provider module that does not call env.changed()), or to act at once. See docs/operations.md.

  --user NAME           drop only this user's entries
  --json                print the gateway's answer as JSON
${ADMIN_OPTIONS_HELP}
Exit status: 0 flushed, 1 failed or gateway not answering, 2 usage.
`

export function cacheCommand(args: string[], io: CliIO): Promise<number> {
  return runAdminCommand(
    args,
    io,
    USAGE,
    { json: true, positionals: 1, strings: ['user'] },
    async (target, [sub], json, { user }) => {
      if (sub !== 'flush') throw errors.GH_ERR_CLI_USAGE(`cache: unknown subcommand ${sub} (the only one is flush)`)
      if (user !== undefined && user === '') throw errors.GH_ERR_CLI_USAGE('--user must be a non-empty user name')
      const res = await adminRequest(
        target,
        'POST',
        user === undefined ? '/cache/flush' : `/cache/flush?user=${encodeURIComponent(user)}`,
      )
      const body = jsonBody<Partial<CacheFlushResult> & { error?: string }>(target, res)
      if (res.status !== 200 || typeof body.flushed !== 'number') {
        io.stderr(`gatehouse: cache flush: ${body.error ?? `status ${res.status}`}\n`)
        return 1
      }
      if (json) io.stdout(`${JSON.stringify(body, null, 2)}\n`)
      else
        io.stdout(
          `flushed ${body.flushed} cached ${body.flushed === 1 ? 'entry' : 'entries'}${user === undefined ? '' : ` for user ${user}`}${body.sessions === undefined ? '' : `, ended ${body.sessions} ${body.sessions === 1 ? 'session' : 'sessions'}`}\n`,
        )
      return 0
    },
  )
}
