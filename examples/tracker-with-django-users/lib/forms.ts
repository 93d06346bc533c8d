/**
 * HTML forms for the demo apps: an application/x-www-form-urlencoded body parser for Fastify,
 * and CSRF protection. Basic and Digest credentials are sent by the browser on every request,
 * cross-site ones included, so every state-changing POST carries a token (an HMAC of the user
 * name under a secret in the data dir) and cross-site fetches are refused outright.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

export type Form = Record<string, string>

export function registerFormParser(app: FastifyInstance): void {
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 256 * 1024 },
    (_req, body, done) => {
      const form: Form = Object.create(null) as Form
      for (const [k, v] of new URLSearchParams(body as string)) if (!(k in form)) form[k] = v
      done(null, form)
    },
  )
}

export function formOf(req: FastifyRequest): Form {
  const body = req.body
  return body !== null && typeof body === 'object' ? (body as Form) : (Object.create(null) as Form)
}

export class Csrf {
  readonly #secret: string
  readonly #scope: string

  constructor(secret: string, scope: string) {
    this.#secret = secret
    this.#scope = scope
  }

  token(user: string | undefined): string {
    return createHmac('sha256', this.#secret)
      .update(`${this.#scope}\0${user ?? ''}`)
      .digest('base64url')
  }

  /** True when the request may change state: same-site, and the form's token matches the user's. */
  check(req: FastifyRequest, user: string | undefined): boolean {
    if (req.headers['sec-fetch-site'] === 'cross-site') return false
    const given = Buffer.from(formOf(req).csrf ?? '', 'utf8')
    const wanted = Buffer.from(this.token(user), 'utf8')
    return given.length === wanted.length && timingSafeEqual(given, wanted)
  }

  /** Fastify preHandler: refuses a POST without a valid token with 403. */
  guard(userOf: (req: FastifyRequest) => string | undefined) {
    return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
      if (req.method !== 'POST' || this.check(req, userOf(req))) return
      await reply
        .code(403)
        .type('text/plain; charset=utf-8')
        .send('Forbidden: the form is stale or came from another site; reload the page and try again.\n')
    }
  }
}
