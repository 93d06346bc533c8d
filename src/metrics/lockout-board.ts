/**
 * The login lockouts in force now, for the status page: learnt from each front's LoginThrottle
 * `lockout` events (the throttle's store keeps counters, not a list one could page through), and
 * forgotten when they end. A configuration reload builds a front with a throttle of its own, so
 * the board is read for the live front's throttle.
 *
 * Bounded: at most MAX_LOCKOUTS per throttle, the soonest to end dropped first. A store shared
 * between instances (Redis) enforces lockouts started elsewhere too; the board lists those this
 * process started.
 */
import type { LockoutEvent, LoginThrottle, ThrottleScope } from '../auth/throttle.js'

export const MAX_LOCKOUTS = 1000

export interface Lockout {
  scope: ThrottleScope
  /** The address (IPv6 by its /64) counted: the one locked out, or for a user, the last one that failed. */
  address: string
  /** For a per-user lockout: the claimed user name and the providers it was claimed at. */
  user?: string
  providers?: string
  since: string
  until: string
  secondsLeft: number
}

interface Entry {
  event: LockoutEvent
  since: number
  until: number
}

export class LockoutBoard {
  readonly #boards = new WeakMap<LoginThrottle, Map<string, Entry>>()
  readonly #now: () => number

  constructor(now: () => number = Date.now) {
    this.#now = now
  }

  /** Starts listening to a front's throttle (once per throttle). */
  watch(throttle: LoginThrottle | undefined): void {
    if (throttle === undefined || this.#boards.has(throttle)) return
    const entries = new Map<string, Entry>()
    this.#boards.set(throttle, entries)
    throttle.on('lockout', (event) => {
      const now = this.#now()
      const key = event.scope === 'user' ? `u\0${event.user ?? ''}` : `a\0${event.address}`
      entries.delete(key)
      entries.set(key, { event, since: now, until: now + event.lockoutMs })
      if (entries.size > MAX_LOCKOUTS) prune(entries, now)
    })
  }

  /** Lockouts of `throttle` still in force, the longest to run first. */
  current(throttle: LoginThrottle | undefined): Lockout[] {
    const entries = throttle === undefined ? undefined : this.#boards.get(throttle)
    if (entries === undefined) return []
    const now = this.#now()
    prune(entries, now)
    return [...entries.values()].sort((a, b) => b.until - a.until).map((e) => lockout(e, now))
  }
}

function prune(entries: Map<string, Entry>, now: number): void {
  for (const [key, e] of entries) if (e.until <= now) entries.delete(key)
  if (entries.size <= MAX_LOCKOUTS) return
  const soonest = [...entries].sort(([, a], [, b]) => a.until - b.until).slice(0, entries.size - MAX_LOCKOUTS)
  for (const [key] of soonest) entries.delete(key)
}

function lockout(e: Entry, now: number): Lockout {
  const { scope, address, user } = e.event
  // The throttle counts a user per provider chain: "PROVIDERS\0NAME".
  const cut = user === undefined ? -1 : user.indexOf('\0')
  return {
    scope,
    address,
    ...(user !== undefined ? { user: user.slice(cut + 1), providers: cut < 0 ? '' : user.slice(0, cut) } : {}),
    since: new Date(e.since).toISOString(),
    until: new Date(e.until).toISOString(),
    secondsLeft: Math.max(1, Math.ceil((e.until - now) / 1000)),
  }
}
