/**
 * The Django provider's decisions, over any DjangoUserSource. It answers what Django 3.2's
 * django.contrib.auth.handlers.modwsgi answers for the same user and password:
 *
 *  - unknown or inactive user     → null  (after one dummy hash of the default hasher's cost)
 *  - unusable / unknown-hasher    → false (after one dummy hash, as check_password's fake_runtime)
 *  - wrong password               → false (and an older pbkdf2_sha256 is topped up, harden_runtime)
 *  - right password               → true
 *  - groups of an unknown or inactive user → []
 *
 * So unknown, inactive and wrong-password answers each cost one full hash of the same cost
 * (CVE-2025-13473). Django hashes are one-way, so there is no getRealmHash: Digest is impossible.
 */
import type { AuthContext, Provider, ProviderLog } from '../../src/providers/contract.js'
import { algorithmOf, isUsablePassword, parseDjangoHash } from './hash-format.js'
import { nodeHashPrimitives, type HashPrimitives } from './hash-primitives.js'
import { hardenRuntime, runDummyCheck, verifyParsedHash } from './hashers.js'
import type { DjangoUserSource } from './user-source.js'

export interface DjangoProviderParts {
  source: DjangoUserSource
  log: ProviderLog
  /** Replaced in tests to count the hashes each answer runs. */
  primitives?: HashPrimitives
}

export interface DjangoProvider extends Provider {
  checkPassword(ctx: AuthContext, user: string, password: string): Promise<boolean | null>
  groupsForUser(ctx: AuthContext, user: string): Promise<string[]>
  close(): Promise<void>
}

const LOGGABLE_ALGORITHM = /^[a-z0-9_]{1,40}$/

export function createDjangoProvider({
  source,
  log,
  primitives = nodeHashPrimitives,
}: DjangoProviderParts): DjangoProvider {
  const warned = new Set<string>()

  function warnUnsupportedOnce(encoded: string, userId: number): void {
    const name = algorithmOf(encoded)
    const algorithm = LOGGABLE_ALGORITHM.test(name) ? name : '(unrecognised format)'
    if (warned.has(algorithm)) return
    warned.add(algorithm)
    log.warn(
      'django: a stored password hash uses an algorithm or format gatehouse cannot verify; such users cannot log in',
      { algorithm, userId },
    )
  }

  const provider: DjangoProvider = {
    async checkPassword(_ctx, user, password) {
      const found = await source.findUser(user)
      if (found === undefined || !found.isActive) {
        await runDummyCheck(password, primitives)
        return null
      }
      const hash = isUsablePassword(found.password) ? parseDjangoHash(found.password) : undefined
      if (hash === undefined) {
        if (isUsablePassword(found.password) && found.password !== '') warnUnsupportedOnce(found.password, found.id)
        await runDummyCheck(password, primitives)
        return false
      }
      const ok = await verifyParsedHash(hash, password, primitives)
      if (!ok) await hardenRuntime(hash, password, primitives)
      return ok
    },

    async groupsForUser(_ctx, user) {
      const found = await source.findUser(user)
      if (found === undefined || !found.isActive) return []
      return source.groupsFor(found.id)
    },

    async close() {
      await source.close()
    },
  }
  return provider satisfies Provider
}
