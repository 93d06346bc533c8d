/**
 * The scheme dispatcher on a Fastify request: builds the context the providers see, runs the
 * verifier, and answers refusals itself — 400, 401/407 with one challenge per offered scheme
 * and algorithm, 403, or 5xx for provider failures (with Retry-After when a provider is down).
 * Returns the identity when the request may go on, undefined when a response was sent.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { basicChallenge } from './basic.js'
import { digestChallenges } from './challenge.js'
import { hashHex } from './digest.js'
import type { NonceManager } from './nonce.js'
import type { AuthPolicy } from './policy.js'
import type { AuthOutcome, AuthRequest, Identity, VerifierDeps } from './verifier.js'
import { verifyThrottled, type GatedOutcome } from './throttle-gate.js'
import { allowAccessChain } from './provider-chain.js'
import type { AuthContext, DigestAlgorithm } from '../providers/contract.js'
import { errors, isGatehouseError } from '../errors.js'
import { sendRefusal } from '../error-page.js'
import { authorityOf, type FrontRequest } from '../request-facts.js'

export interface AuthResult {
  identity?: Identity
  outcome: AuthOutcome['kind'] | 'denied-host' | 'throttled'
  reason?: string
}

/**
 * What the verifier made of a request, before anything is answered: the front's fast path
 * (front-fast-path.ts) decides on it and hands a request it does not serve itself to Fastify
 * with its verdict, so a request is verified (and counted by the throttle) once.
 */
export type AuthVerdict =
  | { kind: 'verified'; outcome: GatedOutcome; body: Buffer | undefined }
  | { kind: 'denied-host' }
  | { kind: 'access-error'; error: unknown }

export async function authenticateRequest(
  request: FastifyRequest,
  reply: FastifyReply,
  policy: AuthPolicy,
  deps: VerifierDeps,
  route: string,
): Promise<AuthResult> {
  return answerVerdict(request, reply, policy, deps, await verifyRequest(request.raw, policy, deps, route))
}

/** Runs the policy's host check and the verifier on a request; answers nothing. */
export async function verifyRequest(
  raw: FrontRequest,
  policy: AuthPolicy,
  deps: VerifierDeps,
  route: string,
): Promise<AuthVerdict> {
  const req = new RequestAuth(raw, policy, route)
  if (hasAllowAccess(policy)) {
    let allowed: boolean
    try {
      allowed = await allowAccessChain(policy.chain, req.ctx)
    } catch (err) {
      return { kind: 'access-error', error: err }
    }
    if (!allowed) return { kind: 'denied-host' }
  }
  const outcome = await verifyThrottled(policy, req, deps)
  return { kind: 'verified', outcome, body: req.body }
}

/** Answers a verdict that refuses the request; an accepting one only sets Authentication-Info. */
export function answerVerdict(
  request: FastifyRequest,
  reply: FastifyReply,
  policy: AuthPolicy,
  deps: VerifierDeps,
  verdict: AuthVerdict,
): AuthResult {
  if (verdict.kind === 'access-error') {
    sendError(reply, verdict.error)
    return { outcome: 'error', reason: isGatehouseError(verdict.error) ? verdict.error.code : 'error' }
  }
  if (verdict.kind === 'denied-host') {
    sendRefusal(reply, 403, 'Forbidden\n')
    return { outcome: 'denied-host' }
  }
  const outcome = verdict.outcome
  if (verdict.body) (request as FastifyRequest & { bufferedBody?: Buffer }).bufferedBody = verdict.body

  switch (outcome.kind) {
    case 'ok':
      if (outcome.authInfo) reply.header(policy.infoHeader, outcome.authInfo)
      return { identity: outcome.identity, outcome: 'ok' }
    case 'challenge':
      sendChallenge(reply, policy, deps.nonces, outcome.stale)
      return { outcome: 'challenge', reason: outcome.reason }
    case 'forbidden':
      sendRefusal(reply, 403, 'Forbidden\n')
      return { identity: outcome.identity, outcome: 'forbidden' }
    case 'bad-request':
      sendRefusal(reply, 400, `Bad Request: ${outcome.reason}\n`)
      return { outcome: 'bad-request', reason: outcome.reason }
    case 'error':
      sendError(reply, outcome.error)
      return { outcome: 'error', reason: outcome.error.code }
    case 'throttled':
      sendThrottled(reply, outcome.retryAfterS)
      return { outcome: 'throttled', reason: outcome.scope }
  }
}

/** 429 for a locked-out address or user: no challenge (retrying now cannot succeed), Retry-After in seconds. */
export function sendThrottled(reply: FastifyReply, retryAfterS: number): void {
  reply.header('retry-after', String(retryAfterS)).header('cache-control', 'no-store')
  sendRefusal(reply, 429, 'Too Many Requests\n')
}

export function challengeHeaders(policy: AuthPolicy, nonces: NonceManager, stale: boolean): string[] {
  const cfg = policy.config
  const out: string[] = []
  for (const scheme of cfg.scheme) {
    if (scheme === 'digest') {
      out.push(
        ...digestChallenges({
          realm: cfg.realm,
          algorithms: cfg.algorithms,
          nonce: nonces.issue(cfg.realm),
          opaque: nonces.opaque(cfg.realm),
          qop: cfg.qop,
          stale,
          userhash: cfg.userhash,
          charset: true,
        }),
      )
    } else if (scheme === 'basic') {
      out.push(basicChallenge(cfg.realm, { charset: true }))
    }
    // form has no challenge: browsers are sent to the login page (src/session) before this.
  }
  return out
}

function sendChallenge(reply: FastifyReply, policy: AuthPolicy, nonces: NonceManager, stale: boolean): void {
  reply.header(policy.challengeHeader, challengeHeaders(policy, nonces, stale)).header('cache-control', 'no-store')
  sendRefusal(
    reply,
    policy.challengeStatus,
    policy.challengeStatus === 401 ? 'Unauthorized\n' : 'Proxy Authentication Required\n',
  )
}

export function sendError(reply: FastifyReply, err: unknown): void {
  const status = isGatehouseError(err) && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500
  if (status < 500) {
    sendRefusal(reply, status, `${(err as Error).message}\n`)
    return
  }
  reply.request.log.error(
    { code: isGatehouseError(err) ? err.code : 'GH_ERR_INTERNAL', msg: (err as Error)?.message },
    'authentication failed closed',
  )
  if (status === 503) reply.header('retry-after', String((err as { retryAfter?: number }).retryAfter ?? 5))
  sendRefusal(reply, status, status === 503 ? 'Service Unavailable\n' : 'Internal Server Error\n')
}

function hasAllowAccess(policy: AuthPolicy): boolean {
  for (const p of policy.chain) if (p.provider.allowAccess) return true
  return false
}

/**
 * One request as the verifier sees it. The provider context (a copy of the headers without
 * credentials) is built on first use: a cache hit never asks a provider, so never pays for it.
 */
class RequestAuth implements AuthRequest {
  readonly method: string
  readonly url: string
  readonly host: string | undefined
  readonly credentials: string | undefined
  readonly remoteAddress: string
  /** The body, when auth-int had to read it (the target then gets this copy). */
  body: Buffer | undefined
  readonly #raw: FrontRequest
  readonly #policy: AuthPolicy
  readonly #route: string
  #ctx: AuthContext | undefined

  constructor(raw: FrontRequest, policy: AuthPolicy, route: string) {
    this.method = raw.method ?? 'GET'
    this.url = raw.url ?? '/'
    this.host = authorityOf(raw)
    this.credentials = raw.headers[policy.requestHeader]
    this.remoteAddress = raw.socket.remoteAddress ?? ''
    this.#raw = raw
    this.#policy = policy
    this.#route = route
  }

  get ctx(): AuthContext {
    return (this.#ctx ??= contextOf(this.#raw, this.#policy, this.#route))
  }

  async bodyHash(alg: DigestAlgorithm): Promise<string> {
    this.body ??= await readBody(this.#raw)
    return hashHex(alg, this.body)
  }
}

function contextOf(raw: FrontRequest, policy: AuthPolicy, route: string): AuthContext {
  const headers: AuthContext['headers'] = {}
  for (const [k, v] of Object.entries(raw.headers)) {
    // HTTP/2 pseudo-header fields are the request line (method, path, host are given apart).
    if (k === 'authorization' || k === 'proxy-authorization' || k.startsWith(':')) continue
    headers[k] = v
  }
  const url = raw.url ?? '/'
  const q = url.indexOf('?')
  return {
    method: raw.method ?? 'GET',
    path: q === -1 ? url : url.slice(0, q),
    host: authorityOf(raw) ?? '',
    remoteAddress: raw.socket.remoteAddress ?? '',
    route,
    realm: policy.config.realm,
    headers,
  }
}

const MAX_AUTH_INT_BODY = 1024 * 1024

/** auth-int hashes the whole body before the request can go on, so it is read (bounded) here. */
async function readBody(raw: FrontRequest): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of raw) {
    size += (chunk as Buffer).length
    if (size > MAX_AUTH_INT_BODY) throw errors.GH_ERR_AUTH_BODY_TOO_LARGE(MAX_AUTH_INT_BODY)
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}
