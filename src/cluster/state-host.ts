/**
 * The security state of a gatehouse's front workers, held by the primary process when there is
 * no `state.redis`: the throttle counts (one MemoryThrottleStore, so failures spread over the
 * workers lock out at the configured total), the Digest nonce-count windows (NonceManager's
 * own, so a header one worker accepted is a replay for every other), the form-login sessions
 * (one MemorySessionStore), and the events (lockouts, cache flushes, provider changes) that
 * each worker's note is rebroadcast from to the other workers.
 *
 * Everything is bounded as in process: the throttle and session stores are LRUs of their
 * configured sizes, the nonce windows are at most `maxNonces` and expire with digest.nonceTtl
 * (+ 5 s of skew), and an in-flight slot lapses after SLOT_TTL_MS, or at once when its worker
 * is detached (it died mid-attempt).
 */
import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import { NonceManager } from '../auth/nonce.js'
import { MemoryThrottleStore, type CountedKey, type FailureCount } from '../auth/throttle-store.js'
import { MemorySessionStore } from '../session/session-store.js'
import { SLOT_TTL_MS } from '../state/redis-throttle-store.js'
import type { StateEvent } from '../state/state-backend.js'
import type { Channel } from './channel.js'
import {
  TOPIC,
  countedKey,
  countedKeys,
  event,
  isObjectBody,
  sessionRecord,
  text,
  time,
  type AdmitReply,
  type ReserveReply,
} from './state-protocol.js'

export { SLOT_TTL_MS }

/** Nonces whose count windows are held at once, as NonceManager's default. */
export const DEFAULT_MAX_NONCES = 100_000

export interface StateHostOptions {
  log: Logger
  /** throttle.maxEntries and throttle.maxLockout of the configuration. */
  throttle: { maxEntries: number; maxLockoutMs: number }
  /** digest.nonceTtl: a nonce's counts are kept that long (+ 5 s of skew). */
  nonceTtlMs: number
  maxNonces?: number
  /** session.maxSessions, or the in-process default. */
  maxSessions?: number
  /** Clock of the nonce windows and the slots, for tests. */
  now?: () => number
}

interface Slot {
  keys: CountedKey[]
  at: number
  owner: Attachment
}

interface Attachment {
  channel: Channel
  detached: boolean
}

export class StateHost {
  readonly throttle: MemoryThrottleStore
  readonly sessions: MemorySessionStore
  readonly #nonces: NonceManager
  readonly #log: Logger
  readonly #now: () => number
  readonly #attached = new Set<Attachment>()
  /** Reservations not settled yet, oldest first. */
  readonly #slots = new Map<string, Slot>()
  readonly #maxSlots: number
  #nextSlot = 1

  constructor(opts: StateHostOptions) {
    this.#log = opts.log
    this.#now = opts.now ?? Date.now
    this.throttle = new MemoryThrottleStore(opts.throttle)
    this.#maxSlots = opts.throttle.maxEntries
    this.#nonces = new NonceManager({
      // Only the count windows are used here: the workers check each nonce's MAC before they ask.
      secret: randomBytes(32),
      ttlMs: opts.nonceTtlMs,
      maxTracked: opts.maxNonces ?? DEFAULT_MAX_NONCES,
      now: this.#now,
    })
    this.sessions = new MemorySessionStore(opts.maxSessions !== undefined ? { maxEntries: opts.maxSessions } : {})
  }

  /** Serves one worker's requests on its channel; the returned function detaches it (call it when the worker exits). */
  attach(channel: Channel): () => void {
    const me: Attachment = { channel, detached: false }
    this.#attached.add(me)
    const serve =
      <T>(fn: (body: unknown) => T) =>
      (body: unknown): T => {
        if (me.detached) throw new Error('detached from the state of the primary')
        return fn(body)
      }
    channel.handle(
      TOPIC.hello,
      serve(() => ({})),
    )
    channel.handle(
      TOPIC.reserve,
      serve((b) => this.#reserve(me, b)),
    )
    channel.handle(
      TOPIC.settle,
      serve((b) => this.#settle(me, b)),
    )
    channel.handle(
      TOPIC.fail,
      serve((b) => this.#fail(me, b)),
    )
    channel.handle(
      TOPIC.admit,
      serve((b) => this.#admit(me, b)),
    )
    channel.handle(
      TOPIC.nonce,
      serve((b) => this.#useNonce(b)),
    )
    channel.handle(
      TOPIC.session,
      serve((b) => this.#session(b)),
    )
    const onEvent = (b: unknown): void => {
      const e = event(b)
      if (e !== undefined && !me.detached) this.#broadcast(e, me)
    }
    channel.on(TOPIC.event, onEvent)
    return () => {
      if (me.detached) return
      me.detached = true
      channel.off(TOPIC.event, onEvent)
      this.#attached.delete(me)
      // A worker gone mid-attempt never settles: its slots go back now.
      let released = 0
      for (const [id, s] of this.#slots) {
        if (s.owner !== me) continue
        this.#release(id, s)
        released++
      }
      if (released > 0)
        this.#log.info({ slots: released }, 'front worker detached mid-login: its throttle slots were given back')
    }
  }

  /** Tells every attached worker (an operator's flush handled in the primary). */
  publish(e: StateEvent): void {
    this.#broadcast(e, undefined)
  }

  /** Nonces whose count windows are held now. */
  get trackedNonces(): number {
    return this.#nonces.trackedCount
  }

  get slotsInFlight(): number {
    return this.#slots.size
  }

  close(): void {
    for (const a of [...this.#attached]) a.detached = true
    this.#attached.clear()
    this.#slots.clear()
    void this.sessions.close()
  }

  #reserve(me: Attachment, body: unknown): ReserveReply {
    if (!isObjectBody(body)) throw new TypeError('reserve: no body')
    const keys = countedKeys(body.keys)
    const now = time(body.now)
    this.#expireSlots()
    const r = this.throttle.reserve(keys, now)
    if (!r.ok) return r
    const slot = String(this.#nextSlot++)
    this.#slots.set(slot, { keys, at: this.#now(), owner: me })
    if (this.#slots.size > this.#maxSlots) {
      const [oldest, s] = this.#slots.entries().next().value as [string, Slot]
      this.#release(oldest, s)
    }
    return { ok: true, slot }
  }

  #settle(me: Attachment, body: unknown): FailureCount[] {
    if (!isObjectBody(body)) throw new TypeError('settle: no body')
    const keys = countedKeys(body.keys)
    const now = time(body.now)
    const failed = body.failed === true
    const slotId = text(body.slot, 'slot', 32)
    const slot = this.#slots.get(slotId)
    let counts: FailureCount[]
    if (slot !== undefined && slot.owner === me) {
      this.#slots.delete(slotId)
      counts = this.throttle.settle(slot.keys, failed, now)
    } else {
      // The slot lapsed (SLOT_TTL_MS): nothing to give back, but a failure still counts.
      counts = failed
        ? keys.map((k) => this.throttle.fail(k, now) as FailureCount)
        : keys.map(() => ({ failures: 0, lockoutMs: 0 }))
    }
    const settled = slot?.owner === me ? slot.keys : keys
    settled.forEach((k, i) => this.#announce(k, now, counts[i] as FailureCount, me))
    return counts
  }

  #fail(me: Attachment, body: unknown): FailureCount | null {
    if (!isObjectBody(body)) throw new TypeError('fail: no body')
    const key = countedKey(body.key)
    const now = time(body.now)
    const credential = body.credential === undefined ? undefined : text(body.credential, 'credential', 256)
    const count = this.throttle.fail(key, now, credential)
    if (count === undefined) return null
    this.#announce(key, now, count, me)
    return count
  }

  /** A judged Digest attempt in one step: what reserve, settle and the nonce count would do one after the other. */
  #admit(me: Attachment, body: unknown): AdmitReply {
    if (!isObjectBody(body)) throw new TypeError('admit: no body')
    const keys = countedKeys(body.keys)
    const now = time(body.now)
    const failed = body.failed === true
    const nonce = body.nonce === undefined ? undefined : text(body.nonce, 'nonce', 64)
    const nc = body.nc === undefined ? undefined : text(body.nc, 'nc', 16)
    this.#expireSlots()
    const r = this.throttle.admitJudged(keys, failed, now)
    if (!r.ok) return r
    if (failed) {
      keys.forEach((k, i) => this.#announce(k, now, r.counts[i] as FailureCount, me))
      return { ok: true, counts: r.counts }
    }
    return nonce === undefined ? { ok: true } : { ok: true, fresh: this.#nonces.useCount(nonce, nc) }
  }

  #useNonce(body: unknown): boolean {
    if (!isObjectBody(body)) throw new TypeError('nonce: no body')
    const nonce = text(body.nonce, 'nonce', 64)
    const nc = body.nc === undefined ? undefined : text(body.nc, 'nc', 16)
    return this.#nonces.useCount(nonce, nc)
  }

  async #session(body: unknown): Promise<unknown> {
    if (!isObjectBody(body)) throw new TypeError('session: no body')
    const s = this.sessions
    switch (body.op) {
      case 'create':
        await s.create(sessionRecord(body.record))
        return null
      case 'get':
        return (await s.get(text(body.key, 'key', 128), time(body.now))) ?? null
      case 'delete':
        return s.delete(text(body.key, 'key', 128))
      case 'deleteByUser':
        return s.deleteByUser(text(body.user, 'user'))
      case 'rotate':
        await s.rotate(text(body.oldKey, 'oldKey', 128), sessionRecord(body.record))
        return null
      default:
        throw new TypeError('session: unknown operation')
    }
  }

  /** A lockout the host's store started: the other workers learn it (the asker from its reply). */
  #announce(k: CountedKey, now: number, c: FailureCount, from: Attachment): void {
    if (c.lockoutMs <= 0) return
    this.#broadcast({ kind: 'lockout', scope: k.scope, id: k.id, until: now + c.lockoutMs }, from)
  }

  #broadcast(e: StateEvent, except: Attachment | undefined): void {
    for (const a of this.#attached) {
      if (a === except || a.channel.closed) continue
      a.channel.send(TOPIC.event, e)
    }
  }

  #expireSlots(): void {
    const before = this.#now() - SLOT_TTL_MS
    for (const [id, s] of this.#slots) {
      if (s.at > before) break
      this.#release(id, s)
    }
  }

  /** Gives a slot back without counting a failure: the attempt's outcome is unknown. */
  #release(id: string, s: Slot): void {
    this.#slots.delete(id)
    this.throttle.settle(s.keys, false, this.#now())
  }
}
