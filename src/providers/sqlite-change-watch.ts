/**
 * Notices that a SQLite database a built-in provider reads was changed by someone else (the
 * `gatehouse users` CLI, a Django site) so the provider can call env.changed() and the front
 * drops the answers it cached from the old data. Shared by the sqlite and django providers.
 *
 * Every interval, on its own read-only connection kept open:
 *  - `PRAGMA data_version`, which moves only when another connection committed (a few µs per poll,
 *    rollback journal or WAL alike; measured in docs/security.md);
 *  - the file's device and inode, which move when the database was replaced by a rename (a
 *    restored backup): every open connection still reads the old file, so the provider reopens.
 * It runs on the timer of the thread the provider was loaded in (a provider thread, never the
 * front's event loop). A `fingerprint` narrows "changed" to the data the provider answers from:
 * a Django site commits sessions and last_login all day, and each flush costs a full password
 * hash per cached user.
 */
import { statSync } from 'node:fs'
import Database from 'better-sqlite3'
import { errors } from '../errors.js'
import type { ProviderEnv, ProviderLog } from './contract.js'

export const DEFAULT_SQLITE_WATCH_INTERVAL_MS = 500

/** The provider option `watchIntervalMs`, checked as htpasswd checks its own (an integer, at least 10). */
export function watchIntervalOption(options: Record<string, unknown>, env: ProviderEnv): number {
  const value = options.watchIntervalMs ?? DEFAULT_SQLITE_WATCH_INTERVAL_MS
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 10) {
    throw errors.GH_ERR_PROVIDER_LOAD(env.name, 'option "watchIntervalMs" must be an integer >= 10')
  }
  return value
}

export interface SqliteChangeWatchOptions {
  path: string
  /** Poll interval. Default 500 ms. */
  intervalMs?: number
  log: ProviderLog
  /** What the provider answers from, read on the watcher's connection; without it any commit counts. */
  fingerprint?: (db: Database.Database) => string
  /**
   * The path now names another file: the provider reopens its own connection (they all read the
   * old one). A throw keeps the old file in force and the next poll tries again.
   */
  onReplaced: () => void
  /** The data changed (after onReplaced when the file was replaced). */
  onChange: () => void
}

interface Snapshot {
  db: Database.Database
  dev: number
  ino: number
  version: unknown
  fingerprint: string | undefined
}

export class SqliteChangeWatch {
  readonly #opts: SqliteChangeWatchOptions
  #current: Snapshot
  #timer: NodeJS.Timeout | undefined
  /** The last problem warned about, so a lasting one is logged once, not every poll. */
  #warned: string | undefined

  private constructor(opts: SqliteChangeWatchOptions, current: Snapshot) {
    this.#opts = opts
    this.#current = current
    this.#timer = setInterval(() => this.check(), opts.intervalMs ?? DEFAULT_SQLITE_WATCH_INTERVAL_MS)
    this.#timer.unref()
  }

  /** Opens the watcher's connection and takes the first reading; throws what better-sqlite3 throws. */
  static open(opts: SqliteChangeWatchOptions): SqliteChangeWatch {
    return new SqliteChangeWatch(opts, snapshot(opts))
  }

  /** One poll (the timer calls it; exposed so a caller can check at once). Never throws. */
  check(): void {
    if (this.#timer === undefined) return
    const { path, fingerprint } = this.#opts
    try {
      const st = statSync(path)
      if (st.dev !== this.#current.dev || st.ino !== this.#current.ino) return this.#replaced()
      const cur = this.#current
      const version = cur.db.pragma('data_version', { simple: true })
      if (version === cur.version) return
      const fp = fingerprint?.(cur.db)
      // A commit landing between the two reads is in fp already; the next poll sees its version and the same fp.
      cur.version = version
      if (fp !== undefined && fp === cur.fingerprint) return
      cur.fingerprint = fp
      this.#warned = undefined
      this.#opts.onChange()
    } catch (err) {
      this.#problem(err)
    }
  }

  close(): void {
    if (this.#timer === undefined) return
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#current.db.close()
  }

  #replaced(): void {
    const next = snapshot(this.#opts)
    try {
      this.#opts.onReplaced()
    } catch (err) {
      next.db.close()
      throw err
    }
    this.#current.db.close()
    this.#current = next
    this.#warned = undefined
    this.#opts.log.info('database file replaced: reopened', { database: this.#opts.path })
    this.#opts.onChange()
  }

  /** A busy database is being written: the next poll sees the commit. Anything else is warned about once. */
  #problem(err: unknown): void {
    const code = (err as { code?: string }).code ?? (err as Error)?.message ?? String(err)
    if (code === 'SQLITE_BUSY' || code === this.#warned) return
    this.#warned = code
    this.#opts.log.warn(
      'database cannot be checked for changes; cached logins expire only with the cache TTL until it can',
      { database: this.#opts.path, reason: code },
    )
  }
}

function snapshot(opts: SqliteChangeWatchOptions): Snapshot {
  // Before opening: a rename in between leaves the older inode on record, so the next poll reopens again.
  const st = statSync(opts.path)
  // timeout 0: a poll never waits on a writer's lock (that would stall the provider's thread).
  const db = new Database(opts.path, { readonly: true, fileMustExist: true, timeout: 0 })
  try {
    const version = db.pragma('data_version', { simple: true })
    return { db, dev: st.dev, ino: st.ino, version, fingerprint: opts.fingerprint?.(db) }
  } catch (err) {
    db.close()
    throw err
  }
}
