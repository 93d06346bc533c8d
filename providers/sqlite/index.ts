/**
 * Built-in provider `sqlite`: gatehouse's own user store (see store.ts; managed with
 * `gatehouse users`). Options: { database, busyTimeout?, watchIntervalMs? }, relative to
 * env.baseDir. Every call reads the database, so CLI changes apply to the next uncached check;
 * a commit by any other connection (every `gatehouse users` command) is noticed within
 * watchIntervalMs and reported with env.changed(), so the front drops the answers it cached.
 * Inactive users look exactly like unknown ones: null, after the same amount of hashing.
 */
import { createHash } from 'node:crypto'
import { resolve } from 'node:path'
import { errors } from '../../src/errors.js'
import type { AuthContext, DigestAlgorithm, Provider, ProviderEnv } from '../../src/providers/contract.js'
import { dummyVerify, primeDummy, verifyPassword } from '../../src/passwords/index.js'
import { UserStore } from './store.js'
import { busyToUnavailable } from '../../src/providers/sqlite-busy.js'
import { SqliteChangeWatch, watchIntervalOption } from '../../src/providers/sqlite-change-watch.js'

export interface SqliteOptions {
  database: string
  /** How long a call waits on a database locked by another connection before it fails with 503. Default 5000 ms. */
  busyTimeout?: number
  /** How often the database is checked for commits by other connections. Default 500 ms. */
  watchIntervalMs?: number
}

/** node:crypto names of the Digest algorithms' hashes (RFC 7616 §3.2). */
const HASHES: Record<DigestAlgorithm, string> = { MD5: 'md5', 'SHA-256': 'sha256', 'SHA-512-256': 'sha512-256' }

export default async function createSqliteProvider(
  options: Record<string, unknown>,
  env: ProviderEnv,
): Promise<Provider> {
  const database = options.database
  if (typeof database !== 'string' || database === '') {
    throw errors.GH_ERR_PROVIDER_LOAD(env.name, 'option "database" must be a non-empty string')
  }
  const path = resolve(env.baseDir, database)
  const busyTimeoutMs = typeof options.busyTimeout === 'number' && options.busyTimeout >= 0 ? options.busyTimeout : 5000
  const intervalMs = watchIntervalOption(options, env)
  const guard = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      return await run()
    } catch (err) {
      throw busyToUnavailable(err, env.name, path, busyTimeoutMs, env.log)
    }
  }
  let store = openStore(env, path, busyTimeoutMs)
  const watch = watchStore(env, path, intervalMs, store, () => {
    const old = store
    store = UserStore.open(path, { busyTimeoutMs })
    old.close()
  })
  await primeDummy({ like: store.sampleHash() })

  return {
    checkPassword: (_ctx: AuthContext, user: string, password: string): Promise<boolean | null> =>
      guard(async () => {
        const found = store.getUser(user)
        if (found === undefined || !found.active) {
          await dummyVerify(password, { like: found?.hash ?? store.sampleHash() })
          return null
        }
        return await verifyPassword(found.hash, password)
      }),
    getRealmHash: (
      _ctx: AuthContext,
      user: string,
      realm: string,
      algorithm: DigestAlgorithm,
    ): Promise<string | null> =>
      guard(async () => {
        if (store.getUser(user)?.active !== true) return null
        return store.realmHash(user, realm, algorithm) ?? null
      }),
    async findUserByHash(
      _ctx: AuthContext,
      userhash: string,
      realm: string,
      algorithm: DigestAlgorithm,
    ): Promise<string | null> {
      const want = userhash.toLowerCase()
      for (const u of store.listUsers()) {
        if (u.active && createHash(HASHES[algorithm]).update(`${u.name}:${realm}`, 'utf8').digest('hex') === want)
          return u.name
      }
      return null
    },
    groupsForUser: (_ctx: AuthContext, user: string): Promise<string[]> =>
      guard(async () => {
        if (store.getUser(user)?.active !== true) return []
        return store.groupsFor(user)
      }),
    close(): void {
      watch.close()
      store.close()
    },
  } satisfies Provider
}

function openStore(env: ProviderEnv, path: string, busyTimeoutMs: number): UserStore {
  try {
    return UserStore.open(path, { busyTimeoutMs })
  } catch (err) {
    throw errors.GH_ERR_PROVIDER_LOAD(env.name, (err as Error).message, { cause: err })
  }
}

/** Watches the database; a watch that cannot start closes the store it was for and fails the load. */
function watchStore(
  env: ProviderEnv,
  path: string,
  intervalMs: number,
  store: UserStore,
  onReplaced: () => void,
): SqliteChangeWatch {
  try {
    return SqliteChangeWatch.open({
      path,
      intervalMs,
      log: env.log,
      onReplaced,
      // Every write to the store changes logins (passwords, active, groups, HA1s): any commit counts.
      onChange: () => env.changed?.(),
    })
  } catch (err) {
    store.close()
    throw errors.GH_ERR_PROVIDER_LOAD(env.name, `cannot watch ${path} for changes: ${(err as Error).message}`, {
      cause: err,
    })
  }
}
