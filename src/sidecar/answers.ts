/**
 * The sidecar's answers and what they tell the access line (server.ts's onResponse hook reads
 * request.user and request.gatehouseRefusal). A refusal is a short text or HTML error page
 * (error-page.ts); the caller has set Cache-Control: no-store.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Config } from '../config/types.js'
import type { AuthResult } from '../auth/fastify-auth.js'
import { refusalOf, type Refusal } from '../auth/refusal.js'
import type { Identity } from '../auth/verifier.js'
import { sendRefusal } from '../error-page.js'
import { encodeHeaderValue } from '../proxy/forward-headers.js'

/** 200 with the identity in every configured header. */
export function allow(
  request: FastifyRequest,
  reply: FastifyReply,
  sidecar: NonNullable<Config['sidecar']>,
  identity: Identity,
): FastifyReply {
  setUser(request, identity)
  for (const name of sidecar.userHeaders) reply.header(name, encodeHeaderValue(identity.user))
  for (const name of sidecar.groupsHeaders) reply.header(name, identity.groups.map(encodeHeaderValue).join(','))
  return reply.code(200).send()
}

/** A malformed sub-request: 400, or 403 (`refusedStatus`) for nginx, whose auth_request makes a 400 a 500. */
export function refuse(reply: FastifyReply, sidecar: NonNullable<Config['sidecar']>, reason: string): FastifyReply {
  return sidecar.refusedStatus === 403
    ? text(reply, 403, `Forbidden: ${reason}\n`)
    : text(reply, 400, `Bad Request: ${reason}\n`)
}

/** The access line of a refused check names the attempted user and why, as the front's does (never the password). */
export function noteRefusal(request: FastifyRequest, result: AuthResult, credentials: string | undefined): void {
  const refusal = refusalOf(result, credentials)
  if (refusal) (request as FastifyRequest & { gatehouseRefusal: Refusal | null }).gatehouseRefusal = refusal
}

export function setUser(request: FastifyRequest, identity: Identity): void {
  ;(request as FastifyRequest & { user?: Identity }).user = identity
}

export function forbidden(reply: FastifyReply): FastifyReply {
  return text(reply, 403, 'Forbidden\n')
}

export function text(reply: FastifyReply, status: number, body: string): FastifyReply {
  return sendRefusal(reply, status, body)
}
