/**
 * ThreadProvider: a provider module run in worker threads, so password hashing never stalls the
 * front's event loop (piscina's model, kept small). start() starts `threadsAtStart` threads (one
 * by default); more start, up to `threads`, only when calls wait while every started thread is
 * busy, because each thread is a V8 isolate of 10-12 MB (docs/performance.md, Memory). Calls go
 * to the least busy live thread, each with a timeout; a thread that dies fails its pending calls
 * with GH_ERR_PROVIDER_UNAVAILABLE and is restarted with backoff. Answers are type-checked before anyone trusts them.
 */
import { Backoff } from '../backoff.js'
import { WaitQueue } from '../wait-queue.js'
import { extname } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { pinNativeAddons } from './native-addons.js'
import { errors, GatehouseError } from '../errors.js'
import { DEFAULTS, defaultMs } from '../config/defaults.js'
import type { AuthContext, DigestAlgorithm, Provider, ProviderLog } from './contract.js'
import type { FromHost, HostData, ProviderMethod, ToHost, WireError } from './thread-host.js'
import { RESULT_RULES, describeValue } from './result-rules.js'
import { busySince, loopMark, type LoopMark } from './loop-load.js'

export interface ThreadProviderOptions {
  name: string
  specifier: string
  options: Record<string, unknown>
  baseDir: string
  /** Most threads, default 2 (`providers.NAME.threads` in src/config/defaults.ts). */
  threads?: number
  /**
   * Threads started by start(), default 1, at most `threads`; the others start when calls wait
   * while every started thread is busy. More at start spares the first burst of logins the
   * start of a thread; each costs its memory from the start.
   */
  threadsAtStart?: number
  /** Default 10000 ms; counted from when a thread takes the call, not from when it was queued. */
  callTimeoutMs?: number
  /**
   * Calls one thread runs at once (default 1). Password hashes are CPU work: interleaving them
   * in one thread only makes every login finish late (100 bcrypt checks would all finish after
   * the whole batch). A provider that waits on the network may want more.
   */
  concurrency?: number
  /** How long a call may wait in the queue for a thread before 503 (default callTimeoutMs). */
  queueTimeoutMs?: number
  /**
   * The threads' CPU priority as nice(1) counts it: 0 is the front's own, 19 the lowest
   * (default 15). Password hashing then yields the CPUs to requests that are already
   * authenticated when both want one, but still fills the short gaps they leave, which costs
   * them a wake-up delay each time (shareWhenBusy is what keeps it out of those). Linux only
   * (there a nice value is per thread); elsewhere it is ignored.
   */
  nice?: number
  /**
   * While the front's event loop is busy (80% utilized or more, loop-load.ts), the share of its
   * time each thread may work: after calls that used t ms of CPU, the thread rests
   * t × (1 / share − 1) ms (at most 1 s at a time) before it takes the next call. A burst of
   * logins then cannot take the CPUs that authenticated requests need; while the front is not
   * busy, threads never rest. 0 < share ≤ 1; 1 turns resting off. Default 0.25. Linux only
   * (the CPU time comes from /proc); elsewhere threads never rest.
   */
  shareWhenBusy?: number
  log: ProviderLog
}

/** A call on its way to a thread: sent at once when a slot is free, else when one is handed over. */
interface Queued {
  method: ProviderMethod
  args: unknown[]
  resolve: (value: unknown) => void
  reject: (err: Error) => void
}

/** 'idle': a slot whose thread has not been needed yet. */
type ThreadState = 'idle' | 'starting' | 'ready' | 'dead'
type PoolState = 'new' | 'starting' | 'ready' | 'closing' | 'closed'

interface Call {
  method: ProviderMethod
  args: unknown[]
  resolve: (value: unknown) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
  /** The event loop's load when the call was sent (shareWhenBusy < 1): was the front busy while it ran? */
  mark?: LoopMark
}

interface Thread {
  index: number
  worker: Worker | undefined
  state: ThreadState
  pending: Map<number, Call>
  /** Ids of calls that timed out but still run in the thread: they count as load. */
  abandoned: Set<number>
  /** Restarts after the thread exited; reset once it served a call. */
  backoff: Backoff
  restartTimer: NodeJS.Timeout | undefined
  /** performance.now() until which the thread takes no call (shareWhenBusy); 0: not resting. */
  restUntil: number
  /** The event loop's load when the rest began: a front no longer busy ends it early. */
  restMark?: LoopMark
}

/** A thread with this many timed-out calls still running is replaced. */
const ABANDONED_LIMIT = 3
const RESTART_BASE_MS = 100
const RESTART_MAX_MS = 5000
const CLOSE_TIMEOUT_MS = 2000
/** The longest a thread rests at a time: a login queued behind it waits no longer than that for the rest. */
const MAX_REST_MS = 1000
/** How long into a rest the front must have been below busy for the rest to end early. */
const MIN_IDLE_EVIDENCE_MS = 50
/** See ThreadProviderOptions.shareWhenBusy. */
export const DEFAULT_SHARE_WHEN_BUSY = DEFAULTS['providers.NAME.shareWhenBusy']
/** Provider threads run below the front's priority unless told otherwise (see ThreadProviderOptions.nice). */
export const DEFAULT_NICE = DEFAULTS['providers.NAME.nice']
/**
 * The worker's entry and execArgv. From dist: thread-host.js, with the parent's execArgv.
 * From src under tsx: on Node 20 the inherited `--import tsx` registers tsx's hooks on the main
 * thread only, so a thread could not import .ts. The thread then gets the parent's execArgv
 * without tsx and a one-line entry that registers tsx (exactly once, on any Node version)
 * before importing thread-host.ts.
 */
function workerEntry(): { entry: string | URL; eval: boolean; execArgv: string[] } {
  const ext = extname(fileURLToPath(import.meta.url)) === '.ts' ? '.ts' : '.js'
  const host = new URL(`./thread-host${ext}`, import.meta.url)
  let tsx: string | undefined
  if (ext === '.ts') {
    try {
      tsx = import.meta.resolve('tsx/esm/api')
    } catch {
      // Another TypeScript loader: it must work in threads by itself.
    }
  }
  if (tsx === undefined) return { entry: host, eval: false, execArgv: process.execArgv }
  const entry = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(host.href)}) })`
  return { entry, eval: true, execArgv: withoutTsx(process.execArgv) }
}

const PRELOAD_FLAGS = new Set(['--import', '--loader', '--experimental-loader', '--require', '-r'])
const TSX = /^tsx(?:\/|$)/

function withoutTsx(argv: readonly string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (PRELOAD_FLAGS.has(arg) && TSX.test(argv[i + 1] ?? '')) {
      i++
      continue
    }
    const eq = arg.indexOf('=')
    if (eq > 0 && PRELOAD_FLAGS.has(arg.slice(0, eq)) && TSX.test(arg.slice(eq + 1))) continue
    out.push(arg)
  }
  return out
}

export class ThreadProvider implements Provider {
  readonly name: string
  declare checkPassword?: (ctx: AuthContext, user: string, password: string) => Promise<boolean | string | null>
  declare getRealmHash?: (
    ctx: AuthContext,
    user: string,
    realm: string,
    algorithm: DigestAlgorithm,
  ) => Promise<string | null>
  declare groupsForUser?: (ctx: AuthContext, user: string) => Promise<string[]>
  declare allowAccess?: (ctx: AuthContext, host: string) => Promise<boolean | null>
  declare findUserByHash?: (
    ctx: AuthContext,
    userhash: string,
    realm: string,
    algorithm: DigestAlgorithm,
  ) => Promise<string | null>

  readonly #opts: Required<ThreadProviderOptions>
  /** shareWhenBusy below 1: threads report their CPU, calls carry a load mark, threads may rest. */
  readonly #paced: boolean
  /** Calls waiting for a thread's slot; a freed slot is handed over (and the call sent) in the tick it frees. */
  readonly #queue = new WaitQueue<Thread>()
  readonly #threads: Thread[] = []
  #state: PoolState = 'new'
  #methods = new Set<ProviderMethod>()
  #nextId = 1
  #restedMs = 0
  /** Wakes #drain when a resting thread may take calls again. */
  #restTimer: NodeJS.Timeout | undefined
  #started: Promise<void> | undefined
  #closed: Promise<void> | undefined
  readonly #changedListeners = new Set<(info: { thread: number }) => void>()

  constructor(opts: ThreadProviderOptions) {
    const threads = opts.threads ?? DEFAULTS['providers.NAME.threads']
    const callTimeoutMs = opts.callTimeoutMs ?? defaultMs('providers.NAME.timeout')
    if (!Number.isInteger(threads) || threads < 1)
      throw errors.GH_ERR_OPT_INVALID(`threads must be a positive integer, got ${String(threads)}`)
    if (!Number.isFinite(callTimeoutMs) || callTimeoutMs <= 0)
      throw errors.GH_ERR_OPT_INVALID(`callTimeoutMs must be a positive number, got ${String(callTimeoutMs)}`)
    const concurrency = opts.concurrency ?? DEFAULTS['providers.NAME.concurrency']
    const queueTimeoutMs = opts.queueTimeoutMs ?? callTimeoutMs
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw errors.GH_ERR_OPT_INVALID(`concurrency must be a positive integer, got ${String(concurrency)}`)
    if (!Number.isFinite(queueTimeoutMs) || queueTimeoutMs <= 0)
      throw errors.GH_ERR_OPT_INVALID(`queueTimeoutMs must be a positive number, got ${String(queueTimeoutMs)}`)
    const threadsAtStart = opts.threadsAtStart ?? DEFAULTS['providers.NAME.threadsAtStart']
    if (!Number.isInteger(threadsAtStart) || threadsAtStart < 1 || threadsAtStart > threads)
      throw errors.GH_ERR_OPT_INVALID(
        `threadsAtStart must be an integer from 1 to threads (${threads}), got ${String(threadsAtStart)}`,
      )
    this.name = opts.name
    const nice = opts.nice ?? DEFAULT_NICE
    if (!Number.isInteger(nice) || nice < 0 || nice > 19)
      throw errors.GH_ERR_OPT_INVALID(`nice must be an integer from 0 to 19, got ${String(nice)}`)
    const shareWhenBusy = opts.shareWhenBusy ?? DEFAULT_SHARE_WHEN_BUSY
    if (typeof shareWhenBusy !== 'number' || !(shareWhenBusy > 0 && shareWhenBusy <= 1))
      throw errors.GH_ERR_OPT_INVALID(
        `shareWhenBusy must be a number above 0 and at most 1, got ${String(shareWhenBusy)}`,
      )
    this.#opts = { ...opts, threads, threadsAtStart, callTimeoutMs, concurrency, queueTimeoutMs, nice, shareWhenBusy }
    this.#paced = shareWhenBusy < 1
  }

  /** Milliseconds of rest the threads were given so far (shareWhenBusy), all threads together. */
  get restedMs(): number {
    return this.#restedMs
  }

  /** The contract methods the loaded provider has; empty before start(). */
  get methods(): Set<string> {
    return new Set(this.#methods)
  }

  get state(): PoolState {
    return this.#state
  }

  /**
   * Calls `listener` each time a thread's provider reports env.changed(). Every thread keeps its
   * own copy of the data and reports its own reload, so one change on disk is usually reported
   * once per thread: the last report comes after every thread serves the new data.
   */
  onChanged(listener: (info: { thread: number }) => void): () => void {
    this.#changedListeners.add(listener)
    return () => this.#changedListeners.delete(listener)
  }

  #changed(thread: Thread): void {
    if (this.#state === 'closing' || this.#state === 'closed') return
    for (const listener of this.#changedListeners) {
      try {
        listener({ thread: thread.index })
      } catch (err) {
        this.#opts.log.error('provider change listener failed', {
          thread: thread.index,
          error: (err as Error)?.message ?? String(err),
        })
      }
    }
  }

  /** Threads started so far (the pool grows to `threads` under concurrent calls). */
  get threadsStarted(): number {
    return this.#threads.filter((t) => t.state !== 'idle').length
  }

  /** Starts `threadsAtStart` threads and waits until each has loaded the provider. Idempotent. */
  start(): Promise<void> {
    this.#started ??= this.#start()
    return this.#started
  }

  async #start(): Promise<void> {
    if (this.#state !== 'new') throw errors.GH_ERR_PROVIDER_UNAVAILABLE(this.name, 'closed')
    this.#state = 'starting'
    pinNativeAddons()
    for (let i = 0; i < this.#opts.threads; i++) {
      this.#threads.push({
        index: i,
        worker: undefined,
        state: 'idle',
        pending: new Map(),
        abandoned: new Set(),
        backoff: new Backoff(RESTART_BASE_MS, RESTART_MAX_MS),
        restartTimer: undefined,
        restUntil: 0,
      })
    }
    try {
      // These tell which methods the provider has and prove it loads; the rest wait for demand.
      const first = this.#threads.slice(0, this.#opts.threadsAtStart)
      const reports = await Promise.all(first.map((t) => this.#spawn(t)))
      this.#methods = new Set(reports[0])
    } catch (err) {
      await this.close()
      throw err
    }
    if (this.#state !== 'starting') throw errors.GH_ERR_PROVIDER_UNAVAILABLE(this.name, 'closed while starting')
    this.#state = 'ready'
    for (const m of this.#methods) this[m] = ((...args: unknown[]) => this.#call(m, args)) as never
  }

  /** Starts one thread; resolves with the provider's methods once it is ready. */
  #spawn(thread: Thread): Promise<ProviderMethod[]> {
    const { specifier, options, baseDir, name, nice } = this.#opts
    const data: HostData = { specifier, options, env: { baseDir, name }, nice, measureCpu: this.#paced }
    const { entry, eval: isEval, execArgv } = workerEntry()
    const worker = new Worker(entry, { workerData: data, eval: isEval, execArgv })
    thread.worker = worker
    thread.state = 'starting'
    thread.restUntil = 0
    return new Promise((resolve, reject) => {
      let settled = false
      const settle = (err: Error | undefined, methods?: ProviderMethod[]): void => {
        if (settled) return
        settled = true
        if (err === undefined) resolve(methods ?? [])
        else reject(err)
      }
      worker.on('message', (msg: FromHost) => {
        if (msg.type === 'ready') {
          thread.state = 'ready'
          worker.unref()
          settle(undefined, msg.methods)
          if (this.#state === 'ready') this.#drain()
        } else if (msg.type === 'load-error') {
          settle(errors.GH_ERR_PROVIDER_LOAD(specifier, msg.error.message))
          void worker.terminate()
        } else if (msg.type === 'log') {
          this.#opts.log[msg.level](msg.msg, { ...msg.fields, thread: thread.index })
        } else if (msg.type === 'changed') {
          this.#changed(thread)
        } else {
          const mark = thread.pending.get(msg.id)?.mark
          this.#settleCall(thread, msg)
          if (mark !== undefined) this.#restAfter(thread, msg.cpuMs, mark)
          this.#drain()
        }
      })
      worker.on('error', (err) => {
        this.#opts.log.error('provider thread failed', { thread: thread.index, error: err.message })
      })
      worker.on('exit', (code) => {
        if (thread.worker !== worker) return
        thread.worker = undefined
        thread.state = 'dead'
        settle(errors.GH_ERR_PROVIDER_LOAD(specifier, `thread exited with code ${code} before it was ready`))
        this.#failPending(thread, `thread exited with code ${code}`)
        if (this.#state === 'ready') this.#scheduleRestart(thread, code)
      })
    })
  }

  #scheduleRestart(thread: Thread, code: number): void {
    const delay = thread.backoff.next()
    this.#opts.log.warn('provider thread exited; restarting', { thread: thread.index, code, delayMs: delay })
    thread.restartTimer = setTimeout(() => {
      thread.restartTimer = undefined
      if (this.#state !== 'ready') return
      this.#spawn(thread).catch((err: Error) => {
        this.#opts.log.error('provider thread restart failed', { thread: thread.index, error: err.message })
      })
    }, delay)
    thread.restartTimer.unref()
  }

  #failPending(thread: Thread, why: string): void {
    for (const [id, call] of thread.pending) {
      clearTimeout(call.timer)
      thread.pending.delete(id)
      call.reject(errors.GH_ERR_PROVIDER_UNAVAILABLE(this.name, why))
    }
    thread.abandoned.clear()
  }

  /** The live thread with the fewest calls in flight (timed-out ones included), resting ones aside. */
  #pick(): Thread | undefined {
    let best: Thread | undefined
    const now = performance.now()
    for (const t of this.#threads) {
      if (t.state !== 'ready' || t.restUntil > now) continue
      if (best === undefined || t.pending.size + t.abandoned.size < best.pending.size + best.abandoned.size) best = t
    }
    return best
  }

  /**
   * Calls wait while every started thread is busy with `concurrency` calls (resting threads with
   * a free slot do not count: resting is there to leave the CPUs to the front): start one idle
   * slot per `concurrency` waiting calls that the threads starting already will not take.
   */
  #grow(): void {
    const started = this.#threads.filter((t) => t.state !== 'idle')
    if (started.length === this.#threads.length) return
    if (started.some((t) => t.state === 'ready' && t.pending.size < this.#opts.concurrency)) return
    const starting = started.filter((t) => t.state === 'starting').length
    let wanted = Math.ceil(this.#queue.length / this.#opts.concurrency) - starting
    for (const t of this.#threads) {
      if (wanted <= 0) return
      if (t.state !== 'idle') continue
      wanted--
      this.#spawn(t).catch((err: Error) => {
        this.#opts.log.error('provider thread start failed', { thread: t.index, error: err.message })
      })
    }
  }

  /** Calls wait in one FIFO queue and go to a thread with a free slot: first come, first served. */
  #call(method: ProviderMethod, args: unknown[]): Promise<unknown> {
    if (this.#state !== 'ready')
      return Promise.reject(errors.GH_ERR_PROVIDER_UNAVAILABLE(this.name, `it is ${this.#state}`))
    if (!this.#threads.some((t) => t.state !== 'dead'))
      return Promise.reject(errors.GH_ERR_PROVIDER_UNAVAILABLE(this.name, 'no live thread'))
    return new Promise((resolve, reject) => {
      const q: Queued = { method, args, resolve, reject }
      const queuedAt = Date.now()
      this.#queue.join(
        {
          timeoutMs: this.#opts.queueTimeoutMs,
          onTimeout: () => errors.GH_ERR_PROVIDER_BUSY(this.name, this.#inflight(), Date.now() - queuedAt),
        },
        // #drain hands over only a thread that has a worker.
        { served: (thread) => this.#send(thread, thread.worker as Worker, q), failed: reject },
      )
      this.#drain()
    })
  }

  #inflight(): number {
    return this.#threads.reduce((n, t) => n + t.pending.size, 0)
  }

  /**
   * Hands queued calls to threads with a free slot, oldest first; each is sent before the next
   * slot is looked for, so a thread never takes more than `concurrency` calls.
   */
  #drain(): void {
    let blocked: 'no thread' | 'no slot' | undefined
    this.#queue.serve(() => {
      const thread = this.#pick()
      // Calls past their timeout do not hold a slot (they may never end); ABANDONED_LIMIT of them replace the thread.
      if (thread?.worker !== undefined && thread.pending.size < this.#opts.concurrency) return thread
      blocked = thread === undefined ? 'no thread' : 'no slot'
      return undefined
    })
    if (blocked === undefined) return
    if (blocked === 'no thread') this.#afterRest()
    this.#grow()
  }

  /**
   * After work that used CPU while the front is busy, the thread rests in proportion
   * (shareWhenBusy), so the hashing of logins gets that share of the thread's time at most.
   */
  #restAfter(thread: Thread, cpuMs: number | undefined, sentAt: LoopMark): void {
    if (cpuMs === undefined || !(cpuMs > 0) || !busySince(sentAt)) return
    const share = this.#opts.shareWhenBusy
    const now = performance.now()
    // A rest still running is extended, but never to more than MAX_REST_MS from now.
    const ahead = Math.max(thread.restUntil - now, 0)
    const rest = Math.min(MAX_REST_MS - ahead, cpuMs * (1 / share - 1))
    this.#restedMs += rest
    thread.restUntil = now + ahead + rest
    thread.restMark = loopMark()
  }

  /**
   * Queued calls and no thread to take them while some rest: a front no longer busy ends the
   * rests at once; otherwise #drain runs again when the first rest ends.
   */
  #afterRest(): void {
    const now = performance.now()
    const resting = this.#threads.filter((t) => t.state === 'ready' && t.restUntil > now)
    if (resting.length === 0) return
    const over = resting.filter((t) => t.restMark !== undefined && !busySince(t.restMark, MIN_IDLE_EVIDENCE_MS))
    if (over.length > 0) {
      for (const t of over) t.restUntil = 0
      this.#drain()
      return
    }
    if (this.#restTimer !== undefined) return
    const first = Math.min(...resting.map((t) => t.restUntil))
    this.#restTimer = setTimeout(
      () => {
        this.#restTimer = undefined
        if (this.#state === 'ready') this.#drain()
      },
      Math.max(1, Math.ceil(first - now)),
    )
    this.#restTimer.unref()
  }

  #send(thread: Thread, worker: Worker, q: Queued): void {
    const id = this.#nextId++
    const timer = setTimeout(() => {
      this.#timeout(thread, id)
      this.#drain()
    }, this.#opts.callTimeoutMs)
    thread.pending.set(id, {
      method: q.method,
      args: q.args,
      resolve: q.resolve,
      reject: q.reject,
      timer,
      ...(this.#paced ? { mark: loopMark() } : {}),
    })
    try {
      worker.postMessage({ type: 'call', id, method: q.method, args: q.args } satisfies ToHost)
    } catch (err) {
      clearTimeout(timer)
      thread.pending.delete(id)
      q.reject(
        errors.GH_ERR_PROVIDER_FAILED(this.name, `arguments cannot be sent to the thread: ${(err as Error).name}`),
      )
    }
  }

  #timeout(thread: Thread, id: number): void {
    const call = thread.pending.get(id)
    if (call === undefined) return
    thread.pending.delete(id)
    thread.abandoned.add(id)
    call.reject(errors.GH_ERR_PROVIDER_TIMEOUT(this.name, this.#opts.callTimeoutMs))
    if (thread.abandoned.size >= ABANDONED_LIMIT && thread.worker !== undefined) {
      this.#opts.log.warn('provider thread has too many calls past their timeout; replacing it', {
        thread: thread.index,
      })
      void thread.worker.terminate()
    }
  }

  #settleCall(thread: Thread, msg: Extract<FromHost, { type: 'result' }>): void {
    const call = thread.pending.get(msg.id)
    if (call === undefined) {
      thread.abandoned.delete(msg.id) // a late answer to a call that timed out
      return
    }
    thread.pending.delete(msg.id)
    clearTimeout(call.timer)
    if (!msg.ok) {
      call.reject(this.#remoteError(call.method, msg.error))
      return
    }
    const rule = RESULT_RULES[call.method]
    if (!rule.valid(msg.value, call.args)) {
      call.reject(errors.GH_ERR_PROVIDER_BAD_RESULT(this.name, describeValue(msg.value), call.method, rule.expected))
      return
    }
    thread.backoff.reset()
    call.resolve(call.method === 'getRealmHash' && typeof msg.value === 'string' ? msg.value.toLowerCase() : msg.value)
  }

  #remoteError(method: ProviderMethod, error: WireError): GatehouseError {
    if (error.code === 'GH_ERR_PROVIDER_BAD_RESULT')
      return errors.GH_ERR_PROVIDER_BAD_RESULT(this.name, error.message, method, RESULT_RULES[method].expected)
    // "Cannot decide now" (a locked database, a backend down) stays a 503 with Retry-After.
    if (error.code === 'GH_ERR_PROVIDER_UNAVAILABLE')
      return errors.GH_ERR_PROVIDER_UNAVAILABLE(this.name, error.message.replace(/^provider \S+ is unavailable: /, ''))
    return errors.GH_ERR_PROVIDER_FAILED(this.name, error.message, {
      cause: Object.assign(new Error(error.message), { code: error.code }),
    })
  }

  /** Fails calls in flight, lets each provider close, and ends every thread. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= this.#close()
    return this.#closed
  }

  async #close(): Promise<void> {
    this.#state = 'closing'
    clearTimeout(this.#restTimer)
    this.#queue.rejectAll(() => errors.GH_ERR_PROVIDER_UNAVAILABLE(this.name, 'it is closing'))
    await Promise.all(this.#threads.map((t) => this.#stop(t)))
    this.#state = 'closed'
  }

  async #stop(thread: Thread): Promise<void> {
    if (thread.restartTimer !== undefined) clearTimeout(thread.restartTimer)
    this.#failPending(thread, 'closing')
    const worker = thread.worker
    if (worker === undefined) return
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
    const timer = setTimeout(() => void worker.terminate(), CLOSE_TIMEOUT_MS)
    try {
      worker.postMessage({ type: 'close' } satisfies ToHost)
    } catch {
      void worker.terminate()
    }
    await exited
    clearTimeout(timer)
  }
}
