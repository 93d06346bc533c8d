/**
 * How a front worker leaves the listening socket it shares without losing a connection. With
 * Node's cluster (round-robin), the primary accepts each connection and hands it to a worker
 * over the IPC pipe, so when a worker stops taking connections two kinds are at risk:
 *
 * - connections still on their way in the pipe: a worker that lets go of the pipe before they
 *   arrive strands them in the primary, whose client then waits forever;
 * - connections just handed over, whose request has not arrived yet: `http.Server#close` counts
 *   them as idle and closes them, so their client sees a reset.
 *
 * So a worker stops listening without closing anything, waits for the primary to answer over
 * the same pipe (every connection sent before the answer has then arrived, and Node sends the
 * ones that came after the listener closed back to the primary, which gives them to another
 * worker), and lets the fresh connections begin their request before the front closes.
 */
import { Server as NetServer, type Socket } from 'node:net'
import { Server as TlsServer } from 'node:tls'
import type { IncomingMessage } from 'node:http'
import type { Http2ServerRequest } from 'node:http2'

/** How long a connection handed over just before the drain may take to begin its request. */
export const FRESH_CONNECTION_GRACE_MS = 1000

/** Connections accepted whose first request has not begun yet. */
export class FreshConnections {
  readonly #fresh = new Set<Socket>()
  #emptied: (() => void) | undefined

  /** Follows `server`'s connections from now on (call before it listens). */
  constructor(server: NetServer) {
    // A TLS server's requests arrive on the TLS socket, not on the TCP socket 'connection' gives.
    const event = server instanceof TlsServer ? 'secureConnection' : 'connection'
    server.on(event, (socket: Socket) => {
      this.#fresh.add(socket)
      socket.once('close', () => this.#forget(socket))
    })
    server.on('request', (req: IncomingMessage | Http2ServerRequest) => this.#forget(req.socket as Socket))
  }

  get size(): number {
    return this.#fresh.size
  }

  /** Resolves once every fresh connection began a request or closed, or after `graceMs`. */
  settled(graceMs: number): Promise<void> {
    if (this.#fresh.size === 0) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(done, graceMs)
      timer.unref()
      this.#emptied = done
      function done(): void {
        clearTimeout(timer)
        resolve()
      }
    })
  }

  #forget(socket: Socket): void {
    if (!this.#fresh.delete(socket) || this.#fresh.size > 0) return
    const emptied = this.#emptied
    this.#emptied = undefined
    emptied?.()
  }
}

/**
 * Stops taking connections and waits until none is on its way or about to send its request.
 * `barrier` is a round trip to the primary over the worker's IPC pipe; a primary that does not
 * answer (it is gone) leaves nothing to wait for.
 */
export async function stopTakingConnections(
  server: NetServer,
  fresh: FreshConnections,
  barrier: () => Promise<unknown>,
  graceMs = FRESH_CONNECTION_GRACE_MS,
): Promise<void> {
  // net.Server's close, not http.Server's: the latter also closes the connections that have not sent their request yet.
  if (server.listening) NetServer.prototype.close.call(server)
  await barrier().catch(() => {})
  await fresh.settled(graceMs)
}
