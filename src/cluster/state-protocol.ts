/**
 * The messages between a front worker's ClusterState (state-client.ts) and the primary's
 * StateHost (state-host.ts) over their Channel: one request per throttle operation, nonce-count
 * use and session operation, and one note per event. The host checks every body it is sent:
 * a worker is trusted, but a malformed message must fail one request, not corrupt the state.
 */
import { errors } from '../errors.js'
import type { CountedKey, ThrottleRule } from '../auth/throttle-store.js'
import type { SessionRecord } from '../session/session-store.js'
import type { StateEvent } from '../state/state-backend.js'

export const TOPIC = {
  hello: 'state.hello',
  reserve: 'state.reserve',
  settle: 'state.settle',
  fail: 'state.fail',
  /** A judged Digest attempt: admission, its failure or its nonce count, in one request. */
  admit: 'state.admit',
  nonce: 'state.nonce',
  session: 'state.session',
  /** A note, both ways: a worker's event to the host, the host's rebroadcast to the other workers. */
  event: 'state.event',
} as const

export interface ReserveBody {
  keys: CountedKey[]
  now: number
}
/** `slot` names the reservation for its settle. */
export type ReserveReply = { ok: true; slot: string } | { ok: false; scope: CountedKey['scope']; lockedMs: number }

export interface SettleBody {
  slot: string
  keys: CountedKey[]
  failed: boolean
  now: number
}

export interface FailBody {
  key: CountedKey
  now: number
  credential?: string
}

/** `nonce` (and `nc`) only for a matching response, whose nonce count is used once admitted. */
export interface AdmitBody {
  keys: CountedKey[]
  now: number
  failed: boolean
  nonce?: string
  nc?: string
}
/** Refused as reserve is; admitted: the failure's counts (only for a failure) and the nonce count's freshness (only when asked). */
export type AdmitReply =
  | { ok: false; scope: CountedKey['scope']; lockedMs: number }
  | { ok: true; counts?: Array<{ failures: number; lockoutMs: number }>; fresh?: boolean }

export interface NonceBody {
  nonce: string
  nc?: string
}

export type SessionBody =
  | { op: 'create'; record: SessionRecord }
  | { op: 'get'; key: string; now: number }
  | { op: 'delete'; key: string }
  | { op: 'deleteByUser'; user: string }
  | { op: 'rotate'; oldKey: string; record: SessionRecord }

/** Keys one throttle operation may name (an address key and a user key). */
const MAX_KEYS = 4

function bad(what: string): Error {
  return errors.GH_ERR_IPC_PROTOCOL(`state message: ${what}`)
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object'
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0
}

export function time(v: unknown): number {
  if (!isCount(v)) throw bad('now is not a time')
  return v
}

export function text(v: unknown, what: string, max = 4096): string {
  if (typeof v !== 'string' || v.length > max) throw bad(`${what} is not a string`)
  return v
}

export function countedKey(v: unknown): CountedKey {
  if (!isObject(v) || (v.scope !== 'address' && v.scope !== 'user')) throw bad('a key has no scope')
  const r = v.rule
  if (!isObject(r) || !isCount(r.maxFailures) || r.maxFailures < 1 || !isCount(r.windowMs) || !isCount(r.lockoutMs))
    throw bad('a key has no rule')
  const rule: ThrottleRule = { maxFailures: r.maxFailures, windowMs: r.windowMs, lockoutMs: r.lockoutMs }
  return { scope: v.scope, id: text(v.id, 'a key id'), rule }
}

export function countedKeys(v: unknown): CountedKey[] {
  if (!Array.isArray(v) || v.length > MAX_KEYS) throw bad('keys is not a list of at most 4')
  return v.map(countedKey)
}

export function event(v: unknown): StateEvent | undefined {
  if (!isObject(v)) return undefined
  if (v.kind === 'lockout') {
    if ((v.scope !== 'address' && v.scope !== 'user') || typeof v.id !== 'string' || !isCount(v.until)) return undefined
    return { kind: 'lockout', scope: v.scope, id: v.id, until: v.until }
  }
  if (v.kind === 'flush') {
    const e: StateEvent = { kind: 'flush' }
    if (typeof v.provider === 'string') e.provider = v.provider
    if (typeof v.user === 'string') e.user = v.user
    return e
  }
  return undefined
}

/** A session record as a worker sent it, or a protocol error: it is never stored half-checked. */
export function sessionRecord(v: unknown): SessionRecord {
  if (!isObject(v)) throw bad('a session record is not an object')
  const strings = ['key', 'user', 'provider', 'scope', 'credential'] as const
  const numbers = ['createdAt', 'lastSeenAt', 'expiresAt', 'idleMs', 'checkedAt'] as const
  if (!strings.every((k) => typeof v[k] === 'string')) throw bad('a session record lacks a text field')
  if (!numbers.every((k) => isCount(v[k]))) throw bad('a session record lacks a time')
  if (!Array.isArray(v.groups) || !v.groups.every((g) => typeof g === 'string'))
    throw bad('a session record has no groups')
  return v as unknown as SessionRecord
}

export function isObjectBody(v: unknown): v is Record<string, unknown> {
  return isObject(v)
}
