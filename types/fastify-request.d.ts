/**
 * Opt-in request types for gatehouseAuth: `import type {} from 'gatehouse-auth/fastify-request'`
 * once in your app types `request.user` and `request.groups`. Opt-in, because other plugins
 * (@fastify/jwt, passport) claim `request.user` with their own type; identityOf(request) from
 * 'gatehouse-auth' is the typed accessor that needs no augmentation. Hand-written, because gatehouse's
 * own sources cannot include a global augmentation of FastifyRequest.user.
 */
import 'fastify'

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated user; null on routes with `config: { auth: false }`. */
    user: string | null
    /** The user's groups; empty on routes with `config: { auth: false }`. */
    groups: string[]
  }
}
