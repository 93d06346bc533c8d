/**
 * Built-in provider `django`: users, passwords and groups of a real Django site's database.
 *
 *   providers:
 *     djangosite: { type: django, database: /srv/site/db.sqlite3 }
 *
 * Basic only: Django stores one-way hashes, so there is no getRealmHash and Digest is impossible.
 * A change Django commits to users, passwords, active flags or groups is noticed within
 * `watchIntervalMs` (default 500 ms) and reported with env.changed(), so the front drops the
 * logins it cached from the old rows.
 */
import { isAbsolute, resolve } from 'node:path'
import { errors } from '../../src/errors.js'
import type { Provider, ProviderEnv } from '../../src/providers/contract.js'
import { createDjangoProvider } from './provider.js'
import { djangoAuthFingerprint, openSqliteUserSource } from './sqlite-user-source.js'
import type { DjangoUserSource } from './user-source.js'
import { busyToUnavailable } from '../../src/providers/sqlite-busy.js'
import { SqliteChangeWatch, watchIntervalOption } from '../../src/providers/sqlite-change-watch.js'

export interface DjangoProviderOptions {
  /** Path of the Django SQLite database (settings.DATABASES['default']['NAME']); relative to the config file. */
  database: string
  /** How long a call waits on a database Django holds locked before the login fails with 503. Default 5000 ms. */
  busyTimeout?: number
  /** How often the database is checked for changes Django committed. Default 500 ms. */
  watchIntervalMs?: number
  /** Django has no pepper: its hashes are salted only. Present in the type to be refused by name. */
  pepper?: never
}

export default async function createDjango(options: DjangoProviderOptions, env: ProviderEnv): Promise<Provider> {
  const database = validate(options, env.name)
  const path = isAbsolute(database) ? database : resolve(env.baseDir, database)
  const raw = options as unknown as { busyTimeout?: unknown }
  const busyTimeoutMs = typeof raw.busyTimeout === 'number' && raw.busyTimeout >= 0 ? raw.busyTimeout : 5000
  const intervalMs = watchIntervalOption(options as unknown as Record<string, unknown>, env)
  let opened = openSqliteUserSource(path, { busyTimeoutMs })
  // Calls go to whichever connection is current: a database replaced by a rename is reopened.
  const current: DjangoUserSource = {
    findUser: (username) => opened.findUser(username),
    groupsFor: (userId) => opened.groupsFor(userId),
    close: () => opened.close(),
  }
  let watch: SqliteChangeWatch
  try {
    watch = SqliteChangeWatch.open({
      path,
      intervalMs,
      log: env.log,
      fingerprint: djangoAuthFingerprint,
      onReplaced: () => {
        const old = opened
        opened = openSqliteUserSource(path, { busyTimeoutMs })
        void old.close()
      },
      onChange: () => env.changed?.(),
    })
  } catch (err) {
    await current.close()
    throw errors.GH_ERR_USERSTORE_FAILED(
      path,
      `cannot watch the Django database for changes: ${(err as Error).message}`,
      { cause: err },
    )
  }
  env.log.info('django: reading users from a Django database', { database: path })
  const provider = createDjangoProvider({ source: withBusyMapping(current, env, path, busyTimeoutMs), log: env.log })
  return {
    ...provider,
    async close() {
      watch.close()
      await provider.close()
    },
  }
}

/** A database Django holds locked past the busy timeout fails the login with 503 (sqlite-busy.ts), not 500. */
function withBusyMapping(
  source: DjangoUserSource,
  env: ProviderEnv,
  path: string,
  busyTimeoutMs: number,
): DjangoUserSource {
  const guard = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      return await run()
    } catch (err) {
      throw busyToUnavailable(err, env.name, path, busyTimeoutMs, env.log)
    }
  }
  return {
    findUser: (username) => guard(() => source.findUser(username)),
    groupsFor: (userId) => guard(() => source.groupsFor(userId)),
    close: () => source.close(),
  }
}

function validate(options: DjangoProviderOptions, name: string): string {
  const raw = options as unknown as Record<string, unknown> | null | undefined
  const database = raw?.database
  if (typeof database !== 'string' || database === '') {
    throw errors.GH_ERR_OPT_INVALID(
      `providers.${name}.database must be the path of the Django SQLite database, got ${database === '' ? 'an empty string' : typeof database}`,
    )
  }
  if (raw !== null && raw !== undefined && 'pepper' in raw) {
    throw errors.GH_ERR_OPT_INVALID(`providers.${name}.pepper is not supported: Django password hashes have no pepper`)
  }
  return database
}
