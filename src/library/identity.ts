/**
 * The identity a request was authenticated as, by gatehouseAuth or by the @fastify/basic-auth
 * adapter: a typed accessor that needs no augmentation of FastifyRequest (whose `user` other
 * plugins, such as @fastify/jwt, may also claim).
 */
import type { Identity } from '../auth/verifier.js'

const identities = new WeakMap<object, Identity>()

export function rememberIdentity(request: object, identity: Identity): void {
  identities.set(request, identity)
}

/** `{ user, groups, provider }` of an authenticated request; undefined on public routes. */
export function identityOf(request: object): Readonly<Identity> | undefined {
  return identities.get(request)
}
