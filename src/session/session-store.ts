/**
 * Where session records live. The interface is async and small so that a shared store
 * (the cross-worker one, Redis) can implement it as well as the in-process one below.
 * Records are keyed by a hash of the session id (session-token.ts), never by the id itself:
 * a dump of a store is not a set of live cookies.
 */

export interface SessionRecord {
  /** storeKey(id): SHA-256 of the session id. */
  readonly key: string
  /** The canonical user name the provider answered with. */
  readonly user: string
  groups: string[]
  /** The provider that accepted the login; its data changing makes the session be checked again. */
  readonly provider: string
  /** The realm and provider chain it was checked against (AuthPolicy.cacheId): routes with another one do not accept it. */
  readonly scope: string
  readonly createdAt: number
  lastSeenAt: number
  /** Absolute end: createdAt + session.lifetime. */
  readonly expiresAt: number
  /** Idle timeout, carried by the record so that a shared store can set its own expiry from it. */
  readonly idleMs: number
  /** When the provider last confirmed the credentials (at login, then after each change of its data). */
  checkedAt: number
  /** The name typed at login and the password, sealed under a key derived from the session id (session-token.ts). */
  readonly credential: string
}

export interface SessionStore {
  /** Stores a record (replacing one under the same key). */
  create(record: SessionRecord): Promise<void>
  /**
   * The live record under `key`, its idle clock restarted (lastSeenAt = now); undefined when
   * there is none or it is past its idle timeout or its lifetime (it is then deleted).
   */
  get(key: string, now: number): Promise<SessionRecord | undefined>
  /** Ends one session; true when there was one. */
  delete(key: string): Promise<boolean>
  /** Ends every session of `user`; returns how many. */
  deleteByUser(user: string): Promise<number>
  /** Replaces the session under `oldKey` by `record` (a login while a session exists: the id changes). */
  rotate(oldKey: string, record: SessionRecord): Promise<void>
  close(): Promise<void>
}

export interface MemorySessionStoreOptions {
  /** Records kept at most; the least recently used goes first. */
  maxEntries?: number
}

export const DEFAULT_MAX_SESSIONS = 100_000

/** Sessions in the front's own memory: one instance, lost on restart. */
export class MemorySessionStore implements SessionStore {
  // Map order is use order: get() re-inserts, so the first key is the least recently used.
  readonly #records = new Map<string, SessionRecord>()
  readonly #max: number

  constructor(opts: MemorySessionStoreOptions = {}) {
    this.#max = opts.maxEntries ?? DEFAULT_MAX_SESSIONS
  }

  get size(): number {
    return this.#records.size
  }

  async create(record: SessionRecord): Promise<void> {
    this.#records.delete(record.key)
    this.#records.set(record.key, record)
    while (this.#records.size > this.#max) {
      const oldest = this.#records.keys().next().value
      if (oldest === undefined) break
      this.#records.delete(oldest)
    }
  }

  async get(key: string, now: number): Promise<SessionRecord | undefined> {
    const r = this.#records.get(key)
    if (r === undefined) return undefined
    if (now >= r.expiresAt || now - r.lastSeenAt >= r.idleMs) {
      this.#records.delete(key)
      return undefined
    }
    r.lastSeenAt = now
    this.#records.delete(key)
    this.#records.set(key, r)
    return r
  }

  async delete(key: string): Promise<boolean> {
    return this.#records.delete(key)
  }

  async deleteByUser(user: string): Promise<number> {
    let n = 0
    for (const [key, r] of this.#records) {
      if (r.user !== user) continue
      this.#records.delete(key)
      n++
    }
    return n
  }

  async rotate(oldKey: string, record: SessionRecord): Promise<void> {
    this.#records.delete(oldKey)
    await this.create(record)
  }

  async close(): Promise<void> {
    this.#records.clear()
  }
}
