/**
 * A front worker's SessionStore when the primary holds the sessions (StateHost): every operation
 * is a request, so a session started on one worker is accepted by the others and a logout on
 * one ends it on all. When the primary does not answer, every operation throws
 * GH_ERR_STATE_UNAVAILABLE (503), as the Redis store does: a local fallback would let a session
 * ended on another worker live on here.
 */
import type { SessionRecord, SessionStore } from '../session/session-store.js'
import { TOPIC, type SessionBody } from './state-protocol.js'

export interface ClusterSessionStoreOptions {
  /** A request to the primary; rejects when it cannot be answered in time. */
  ask: <T>(topic: string, body: unknown) => Promise<T>
  /** The error to throw when the primary could not answer. */
  unavailable: (why: string, cause: unknown) => Error
}

export class ClusterSessionStore implements SessionStore {
  readonly #o: ClusterSessionStoreOptions

  constructor(opts: ClusterSessionStoreOptions) {
    this.#o = opts
  }

  async create(record: SessionRecord): Promise<void> {
    await this.#run({ op: 'create', record })
  }

  async get(key: string, now: number): Promise<SessionRecord | undefined> {
    return (await this.#run<SessionRecord | null>({ op: 'get', key, now })) ?? undefined
  }

  async delete(key: string): Promise<boolean> {
    return (await this.#run<boolean>({ op: 'delete', key })) === true
  }

  async deleteByUser(user: string): Promise<number> {
    return Number(await this.#run<number>({ op: 'deleteByUser', user }))
  }

  async rotate(oldKey: string, record: SessionRecord): Promise<void> {
    await this.#run({ op: 'rotate', oldKey, record })
  }

  /** The sessions are the primary's: they outlive this worker. */
  async close(): Promise<void> {}

  async #run<T>(body: SessionBody): Promise<T> {
    try {
      return await this.#o.ask<T>(TOPIC.session, body)
    } catch (err) {
      throw this.#o.unavailable((err as Error).message, err)
    }
  }
}
