/**
 * A front worker for bench/cluster-state.ts, forked with an IPC pipe: a createGatehouse front
 * from src/ whose state is either in process or, with `cluster`, a ClusterState over the pipe to
 * the bench (the primary). With `localNonces` too, the nonce counts stay in the worker and only
 * the throttle asks the primary: what a design where each worker owns the nonces it issued would
 * cost at best (a client staying on the worker that issued its nonce). argv[2] is
 * `{ config, baseDir, cluster, localNonces }`; the ready line goes to stdout as
 * `BENCH-READY {"url":…}`.
 */
import { NonceManager } from '../../src/auth/nonce.js'
import type { NonceCounts } from '../../src/auth/nonce-counts.js'
import { Channel } from '../../src/cluster/channel.js'
import { ClusterState } from '../../src/cluster/state-client.js'
import { parseConfig } from '../../src/config/parse.js'
import { createLogger } from '../../src/log.js'
import { createGatehouse } from '../../src/server.js'

const { config, baseDir, cluster, localNonces } = JSON.parse(process.argv[2] ?? '{}') as {
  config: Record<string, unknown>
  baseDir: string
  cluster: boolean
  localNonces?: boolean
}
const parsed = parseConfig(config, { baseDir })
const nonces = new NonceManager({ secret: parsed.digest.secret, ttlMs: parsed.digest.nonceTtlMs })

/** The primary's state, but the worker's own nonce-count windows. */
class LocalNonceCounts extends ClusterState {
  override nonceCounts(): NonceCounts {
    return { use: (nonce, nc) => nonces.useCount(nonce, nc) }
  }
}

const log = createLogger('warn', process.stderr)
const channel = cluster ? new Channel(process) : undefined
const state = channel
  ? localNonces
    ? new LocalNonceCounts({ channel, log })
    : new ClusterState({ channel, log })
  : undefined
await state?.start()
const gatehouse = await createGatehouse(parsed, {
  logger: log,
  nonces,
  ...(state ? { state, sessionStore: state.sessionStore() } : {}),
})
const url = await gatehouse.listen()
process.stdout.write(`BENCH-READY ${JSON.stringify({ url })}\n`)
process.once('SIGTERM', () => void gatehouse.close().then(() => process.exit(0)))
