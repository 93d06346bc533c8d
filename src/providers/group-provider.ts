/**
 * A daemon group's provider module, seen from the front: each method is a call over the
 * group's data socket (a CALL frame, docs/protocol.md), answered inside one of the group's processes (as the group's user, with
 * the group's modules). It has exactly the methods the group's processes reported when they
 * became ready, so "a Digest route needs getRealmHash" and "allowAccess only when present"
 * hold for group providers as for the others.
 *
 * Every way a call can go wrong becomes a coded error, never an answer (fail closed):
 *   the provider threw                → GH_ERR_PROVIDER_FAILED      500
 *   it answered a value of wrong type → GH_ERR_PROVIDER_BAD_RESULT  500
 *   no answer within callTimeoutMs    → GH_ERR_PROVIDER_TIMEOUT     503
 *   over the concurrency cap too long → GH_ERR_PROVIDER_BUSY        503 (Retry-After)
 *   group down, process died mid-call → GH_ERR_PROVIDER_UNAVAILABLE 503 (Retry-After)
 * Messages name the provider, the method and the kind of failure, never an argument.
 */
import { errors, isGatehouseError, type GatehouseError } from '../errors.js'
import type { AuthContext, DigestAlgorithm, ProviderMethodName } from './contract.js'
import type { ManagedProvider } from './registry.js'
import { RESULT_RULES, describeValue } from './result-rules.js'
import { WaitQueue } from '../wait-queue.js'

export interface GroupProviderOptions {
  /** Per call, from sending it to its answer (> 0). groups.NAME.providerTimeout. */
  callTimeoutMs: number
  /** Calls in flight at once over all the group's processes (>= 1). groups.NAME.providerConcurrency. */
  concurrency: number
  /** How long a call over the cap waits for a slot before GH_ERR_PROVIDER_BUSY (>= 0). */
  queueTimeoutMs: number
}

/**
 * The daemon group as the provider sees it: calls, the methods its module has, file changes.
 * The supervisor's GroupHandle (daemon/group.ts) is one; the provider runtime knows no supervisor.
 */
export interface ProviderGroup {
  call(method: string, args: unknown[], timeoutMs: number): Promise<unknown>
  /** The methods of the group's provider module as its newest ready process reported them. */
  providerMethods(): readonly ProviderMethodName[] | undefined
  /** Reloads now if a watched file changed; never rejects. */
  noticeChanges(): Promise<void>
}

type State = 'new' | 'ready' | 'closed'

/** Seconds a client should wait after the process serving a call died under it (it is respawned at once). */
const RETRY_AFTER_CRASH_S = 1

export class GroupProvider implements ManagedProvider {
  readonly name: string
  readonly #handle: ProviderGroup
  readonly #opts: GroupProviderOptions
  #state: State = 'new'
  #inflight = 0
  /** Calls over the concurrency cap, waiting for a slot: release() hands its slot to the first. */
  readonly #waiters = new WaitQueue<true>()

  constructor(name: string, handle: ProviderGroup, opts: GroupProviderOptions) {
    if (!Number.isFinite(opts.callTimeoutMs) || opts.callTimeoutMs <= 0)
      throw errors.GH_ERR_OPT_INVALID(
        `groups.${name}.providerTimeout must be more than 0 ms, got ${opts.callTimeoutMs}`,
      )
    if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1)
      throw errors.GH_ERR_OPT_INVALID(
        `groups.${name}.providerConcurrency must be a positive integer, got ${opts.concurrency}`,
      )
    if (!Number.isFinite(opts.queueTimeoutMs) || opts.queueTimeoutMs < 0)
      throw errors.GH_ERR_OPT_INVALID(
        `groups.${name}.providerQueueTimeout must be 0 or more ms, got ${opts.queueTimeoutMs}`,
      )
    this.name = name
    this.#handle = handle
    this.#opts = { ...opts }
  }

  // The contract methods, present only when the group's provider module has them.
  get checkPassword():
    ((ctx: AuthContext, user: string, password: string) => Promise<boolean | string | null>) | undefined {
    return this.#has('checkPassword') ? this.#checkPassword : undefined
  }

  get getRealmHash():
    | ((ctx: AuthContext, user: string, realm: string, algorithm: DigestAlgorithm) => Promise<string | null>)
    | undefined {
    return this.#has('getRealmHash') ? this.#getRealmHash : undefined
  }

  get groupsForUser(): ((ctx: AuthContext, user: string) => Promise<string[]>) | undefined {
    return this.#has('groupsForUser') ? this.#groupsForUser : undefined
  }

  get allowAccess(): ((ctx: AuthContext, host: string) => Promise<boolean | null>) | undefined {
    return this.#has('allowAccess') ? this.#allowAccess : undefined
  }

  get findUserByHash():
    | ((ctx: AuthContext, userhash: string, realm: string, algorithm: DigestAlgorithm) => Promise<string | null>)
    | undefined {
    return this.#has('findUserByHash') ? this.#findUserByHash : undefined
  }

  /** The provider's methods as the group last reported them (empty before start()). */
  get methods(): readonly ProviderMethodName[] {
    return this.#state === 'new' ? [] : (this.#handle.providerMethods() ?? [])
  }

  /** Calls in flight and calls waiting for a slot. */
  get load(): { inflight: number; queued: number } {
    return { inflight: this.#inflight, queued: this.#waiters.length }
  }

  /** Ready once the group's processes reported their provider's methods (the supervisor started them). */
  async start(): Promise<void> {
    if (this.#state !== 'new') return
    if (this.#handle.providerMethods() === undefined)
      throw errors.GH_ERR_PROVIDER_UNAVAILABLE(this.name, 'its group reported no provider module')
    this.#state = 'ready'
  }

  /**
   * Lets the group notice a touched app or provider file before the front consults its
   * credential cache: the reload that follows empties this provider's entries.
   */
  refresh(): Promise<void> {
    return this.#state === 'ready' ? this.#handle.noticeChanges() : Promise.resolve()
  }

  /** Fails waiting calls; calls in flight finish or fail with the group. Idempotent. */
  close(): void {
    this.#state = 'closed'
    this.#waiters.rejectAll(() => errors.GH_ERR_PROVIDER_UNAVAILABLE(this.name, 'the gateway is closing'))
  }

  readonly #checkPassword = (ctx: AuthContext, user: string, password: string) =>
    this.#call('checkPassword', ctx, [user, password]) as Promise<boolean | string | null>

  readonly #getRealmHash = (ctx: AuthContext, user: string, realm: string, algorithm: DigestAlgorithm) =>
    this.#call('getRealmHash', ctx, [user, realm, algorithm]) as Promise<string | null>

  readonly #groupsForUser = (ctx: AuthContext, user: string) =>
    this.#call('groupsForUser', ctx, [user]) as Promise<string[]>

  readonly #allowAccess = (ctx: AuthContext, host: string) =>
    this.#call('allowAccess', ctx, [host]) as Promise<boolean | null>

  readonly #findUserByHash = (ctx: AuthContext, userhash: string, realm: string, algorithm: DigestAlgorithm) =>
    this.#call('findUserByHash', ctx, [userhash, realm, algorithm]) as Promise<string | null>

  #has(method: ProviderMethodName): boolean {
    return this.#state === 'ready' && (this.#handle.providerMethods()?.includes(method) ?? false)
  }

  async #call(method: ProviderMethodName, ctx: AuthContext, rest: unknown[]): Promise<unknown> {
    const args = [contextForProvider(ctx), ...rest]
    const wait = this.#acquire()
    if (wait !== undefined) await wait
    let value: unknown
    try {
      value = await this.#handle.call(method, args, this.#opts.callTimeoutMs)
    } catch (err) {
      throw this.#failure(method, err)
    } finally {
      this.#release()
    }
    const rule = RESULT_RULES[method]
    if (!rule.valid(value, args))
      throw errors.GH_ERR_PROVIDER_BAD_RESULT(this.name, describeValue(value), method, rule.expected)
    return value
  }

  /** undefined: a slot was free and is now taken; else a wait for one (rejects with GH_ERR_PROVIDER_BUSY). */
  #acquire(): Promise<unknown> | undefined {
    if (this.#state === 'closed')
      return Promise.reject(errors.GH_ERR_PROVIDER_UNAVAILABLE(this.name, 'the gateway is closing'))
    if (this.#takeSlot()) return undefined
    return this.#waiters.wait({ timeoutMs: this.#opts.queueTimeoutMs, onTimeout: () => this.#busy() })
  }

  /** Frees the slot and hands it to the longest waiter, if any. */
  #release(): void {
    this.#inflight--
    this.#waiters.serve(() => this.#takeSlot())
  }

  /** Takes a slot if one is free. */
  #takeSlot(): true | undefined {
    if (this.#inflight >= this.#opts.concurrency) return undefined
    this.#inflight++
    return true
  }

  #busy(): GatehouseError {
    const { concurrency, queueTimeoutMs } = this.#opts
    return Object.assign(errors.GH_ERR_PROVIDER_BUSY(this.name, concurrency, queueTimeoutMs), {
      retryAfter: Math.max(1, Math.ceil(queueTimeoutMs / 1000)),
    })
  }

  /** Maps what the group's handle threw to the provider's own codes (see the table above). */
  #failure(method: ProviderMethodName, err: unknown): GatehouseError {
    const cause = { cause: err }
    if (!isGatehouseError(err))
      return errors.GH_ERR_PROVIDER_FAILED(this.name, `${method} failed: ${(err as Error)?.name ?? typeof err}`, cause)
    const remote = err as GatehouseError & { remoteCode?: string; remoteMessage?: string; retryAfter?: number }
    switch (err.code) {
      case 'GH_ERR_GROUP_TIMEOUT':
        return Object.assign(errors.GH_ERR_PROVIDER_TIMEOUT(this.name, this.#opts.callTimeoutMs, cause), {
          retryAfter: Math.max(1, Math.ceil(this.#opts.callTimeoutMs / 1000)),
        })
      case 'GH_ERR_GROUP_UNAVAILABLE':
        return Object.assign(
          errors.GH_ERR_PROVIDER_UNAVAILABLE(this.name, `group ${this.name} has no live process`, cause),
          { retryAfter: remote.retryAfter ?? RETRY_AFTER_CRASH_S },
        )
      case 'GH_ERR_GROUP_FAILED':
      case 'GH_ERR_IPC_CLOSED':
        return Object.assign(
          errors.GH_ERR_PROVIDER_UNAVAILABLE(this.name, `the process answering ${method} went away`, cause),
          { retryAfter: RETRY_AFTER_CRASH_S },
        )
      case 'GH_ERR_PROVIDER_FAILED':
        if (remote.remoteCode === 'GH_ERR_PROVIDER_BAD_RESULT') {
          return errors.GH_ERR_PROVIDER_BAD_RESULT(
            this.name,
            remote.remoteMessage ?? 'a value',
            method,
            RESULT_RULES[method].expected,
            cause,
          )
        }
        return errors.GH_ERR_PROVIDER_FAILED(this.name, remote.remoteMessage ?? `${method} failed`, cause)
      default:
        return errors.GH_ERR_PROVIDER_FAILED(this.name, `${method} failed: ${err.code}`, cause)
    }
  }
}

/** What the provider sees of the request: the context fields, never Authorization or Proxy-Authorization. */
export function contextForProvider(ctx: AuthContext): AuthContext {
  const headers: AuthContext['headers'] = {}
  for (const [k, v] of Object.entries(ctx.headers ?? {})) {
    const lower = k.toLowerCase()
    if (lower === 'authorization' || lower === 'proxy-authorization') continue
    headers[k] = v
  }
  return {
    method: ctx.method,
    path: ctx.path,
    host: ctx.host,
    remoteAddress: ctx.remoteAddress,
    route: ctx.route,
    realm: ctx.realm,
    headers,
  }
}
