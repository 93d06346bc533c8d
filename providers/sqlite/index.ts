/**
 * Built-in provider `sqlite`: gatehouse's own user store (see store.ts; managed with
 * `gatehouse users`). Options: { database }, relative to env.baseDir. Every call reads the
 * database, so CLI changes apply at once. Inactive users look exactly like unknown ones:
 * null, after the same amount of hashing.
 */
import { createHash } from 'node:crypto'
import { resolve } from 'node:path'
import { errors } from '../../src/errors.js'
import type { AuthContext, DigestAlgorithm, Provider, ProviderEnv } from '../../src/providers/contract.js'
import { dummyVerify, primeDummy, verifyPassword } from '../../src/passwords/index.js'
import { UserStore } from './store.js'

export interface SqliteOptions {
  database: string
}

/** node:crypto names of the Digest algorithms' hashes (RFC 7616 §3.2). */
const HASHES: Record<DigestAlgorithm, string> = { MD5: 'md5', 'SHA-256': 'sha256', 'SHA-512-256': 'sha512-256' }

export default async function createSqliteProvider(options: Record<string, unknown>, env: ProviderEnv): Promise<Provider> {
  const database = options.database
  if (typeof database !== 'string' || database === '') {
    throw errors.GH_ERR_PROVIDER_LOAD(env.name, 'option "database" must be a non-empty string')
  }
  const path = resolve(env.baseDir, database)
  let store: UserStore
  try {
    store = UserStore.open(path)
  } catch (err) {
    throw errors.GH_ERR_PROVIDER_LOAD(env.name, (err as Error).message, { cause: err })
  }
  await primeDummy({ like: store.sampleHash() })

  return {
    async checkPassword(_ctx: AuthContext, user: string, password: string): Promise<boolean | null> {
      const found = store.getUser(user)
      if (found === undefined || !found.active) {
        await dummyVerify(password, { like: found?.hash ?? store.sampleHash() })
        return null
      }
      return await verifyPassword(found.hash, password)
    },
    async getRealmHash(_ctx: AuthContext, user: string, realm: string, algorithm: DigestAlgorithm): Promise<string | null> {
      if (store.getUser(user)?.active !== true) return null
      return store.realmHash(user, realm, algorithm) ?? null
    },
    async findUserByHash(_ctx: AuthContext, userhash: string, realm: string, algorithm: DigestAlgorithm): Promise<string | null> {
      const want = userhash.toLowerCase()
      for (const u of store.listUsers()) {
        if (u.active && createHash(HASHES[algorithm]).update(`${u.name}:${realm}`, 'utf8').digest('hex') === want) return u.name
      }
      return null
    },
    async groupsForUser(_ctx: AuthContext, user: string): Promise<string[]> {
      if (store.getUser(user)?.active !== true) return []
      return store.groupsFor(user)
    },
    close(): void {
      store.close()
    },
  } satisfies Provider
}
