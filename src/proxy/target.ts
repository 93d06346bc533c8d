/**
 * Where an authenticated request goes: an external upstream URL or a daemon group.
 * The front prepares the request (sanitized headers with the identity set) and a target
 * writes the response to the Fastify reply, streaming both ways.
 */
import type { Readable } from 'node:stream'
import type { FastifyReply } from 'fastify'
import type { GatewayInfo } from '../ipc/protocol.js'

export interface ForwardRequest {
  method: string
  /** Path and query as received. */
  url: string
  /** Hop-by-hop headers removed, client copies of identity headers removed, identity and X-Forwarded-* set. */
  headers: Record<string, string | string[]>
  /** The raw request body stream, or null when the request has none. */
  body: Readable | null
  remoteAddress: string
  /** Route, scheme, port and identity as a WSGI environ needs them (GroupTarget passes them on to Python groups). */
  gateway?: GatewayInfo
}

export interface Target {
  readonly kind: 'upstream' | 'group'
  readonly name: string
  forward(req: ForwardRequest, reply: FastifyReply): Promise<void>
  close(): Promise<void>
}
