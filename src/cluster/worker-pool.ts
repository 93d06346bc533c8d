/**
 * The front workers of one gatehouse (runs in the primary): forks them with Node's cluster
 * module (the primary holds the listening socket and hands connections out round-robin),
 * starts each on the configuration, replaces one that dies (with a backoff, so a worker that
 * crashes at start does not spin), replaces them all for a configuration reload (the new set
 * listens before the old one drains, so no connection is refused), and stops them gracefully.
 */
import cluster, { type Worker } from 'node:cluster'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import type { Logger } from 'pino'
import type { Config } from '../config/types.js'
import { errors } from '../errors.js'
import { Backoff } from '../backoff.js'
import { Channel } from './channel.js'
import type { FrontWorkerInit, FrontWorkerStarted } from './worker-messages.js'

export interface WorkerPoolOptions {
  size: number
  log: Logger
  /** How long a worker may take from fork to listening. */
  startTimeoutMs: number
  /** How long a stopping worker may take to finish its requests before it is killed. */
  stopTimeoutMs: number
  /** Each log line of a worker; without it, workers write to the primary's stdout and stderr. */
  output?: (line: string, worker: number) => void
  /** Hooks the primary's services (state, groups) onto a new worker's channel; returns the undo. */
  attach(channel: Channel): () => void
}

export interface FrontWorker {
  readonly index: number
  readonly pid: number
  readonly channel: Channel
  /** Epoch ms when it started listening. */
  readonly since: number
}

interface Slot extends FrontWorker {
  readonly worker: Worker
  readonly detach: () => void
  readonly address: string
  /** Set when the pool itself stops or replaces this worker: its exit is not a crash. */
  leaving: boolean
}

/** A crash-looping worker is restarted no faster than this, doubling from BACKOFF_FIRST_MS. */
const BACKOFF_FIRST_MS = 100
const BACKOFF_MAX_MS = 5_000
/** A worker that served this long resets the backoff. */
const STABLE_AFTER_MS = 10_000

export class WorkerPool {
  readonly #opts: WorkerPoolOptions
  readonly #log: Logger
  #config: Config | undefined
  #slots: Slot[] = []
  #stopping = false
  #crashes = 0
  readonly #backoff = new Backoff(BACKOFF_FIRST_MS, BACKOFF_MAX_MS)
  readonly #respawns = new Set<NodeJS.Timeout>()

  constructor(opts: WorkerPoolOptions) {
    this.#opts = opts
    this.#log = opts.log
    setupCluster()
  }

  /** The live workers, by index. */
  get workers(): readonly FrontWorker[] {
    return this.#slots
  }

  /** Workers that died and were replaced, since the start. */
  get crashes(): number {
    return this.#crashes
  }

  /** Forks and starts every worker; resolves with the address they listen on. Fails (all stopped) if one fails. */
  async start(config: Config): Promise<string> {
    this.#config = config
    const started = await this.#startSet(config)
    this.#slots = started
    return addressOf(started)
  }

  /**
   * Replaces every worker by one started on `config`: the new ones listen first, then the old
   * ones drain. If a new one fails to start, the new ones are stopped and the old ones stay.
   */
  async replaceAll(config: Config): Promise<void> {
    const fresh = await this.#startSet(config)
    const old = this.#slots
    this.#slots = fresh
    this.#config = config
    await Promise.all(old.map((s) => this.#stopSlot(s)))
  }

  /** Sends a note to every live worker. */
  broadcast(topic: string, body?: unknown): void {
    for (const s of this.#slots) s.channel.send(topic, body)
  }

  /** Asks every live worker; a worker that fails to answer is left out (and logged). */
  async ask<T>(topic: string, body?: unknown, timeoutMs = 2000): Promise<T[]> {
    const answers = await Promise.allSettled(this.#slots.map((s) => s.channel.request<T>(topic, body, timeoutMs)))
    const out: T[] = []
    answers.forEach((a, i) => {
      if (a.status === 'fulfilled') out.push(a.value)
      else
        this.#log.warn(
          { worker: this.#slots[i]?.index, topic, err: (a.reason as Error).message },
          'front worker did not answer',
        )
    })
    return out
  }

  /** Graceful stop of every worker (each finishes its requests, up to stopTimeoutMs). Idempotent. */
  async stop(): Promise<void> {
    this.#stopping = true
    for (const t of this.#respawns) clearTimeout(t)
    this.#respawns.clear()
    const slots = this.#slots
    this.#slots = []
    await Promise.all(slots.map((s) => this.#stopSlot(s)))
  }

  async #startSet(config: Config): Promise<Slot[]> {
    const results = await Promise.allSettled(
      Array.from({ length: this.#opts.size }, (_, index) => this.#startOne(config, index)),
    )
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
    if (failed !== undefined) {
      await Promise.all(started.map((s) => this.#stopSlot(s)))
      throw failed.reason
    }
    return started
  }

  async #startOne(config: Config, index: number): Promise<Slot> {
    cluster.setupPrimary({ silent: this.#opts.output !== undefined })
    const worker = cluster.fork({ GATEHOUSE_FRONT_WORKER: String(index) })
    if (this.#opts.output !== undefined) {
      const output = this.#opts.output
      for (const stream of [worker.process.stdout, worker.process.stderr])
        if (stream) createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => output(line, index))
    }
    const channel = new Channel(worker)
    // A stopping worker's barrier (src/cluster/worker-drain.ts): answered after its listener's close, which came first on the pipe.
    channel.handle('drain', () => true)
    const exited = new Promise<never>((_, reject) => {
      worker.once('exit', (code, signal) =>
        reject(
          errors.GH_ERR_WORKER_START(index, signal ? `exited on ${signal}` : `exited with code ${code}`, 'see its log'),
        ),
      )
    })
    exited.catch(() => {})
    const timer = setTimeout(() => worker.process.kill('SIGKILL'), this.#opts.startTimeoutMs)
    let detach: (() => void) | undefined
    try {
      await Promise.race([new Promise<void>((r) => channel.on('ready', () => r())), exited])
      detach = this.#opts.attach(channel)
      const init: FrontWorkerInit = { config, index }
      const started = await Promise.race([
        channel.request<FrontWorkerStarted>('start', init, this.#opts.startTimeoutMs),
        exited,
      ])
      const slot: Slot = {
        index,
        pid: started.pid,
        channel,
        worker,
        detach,
        since: Date.now(),
        leaving: false,
        address: started.address,
      }
      worker.once('exit', (code, signal) => this.#onExit(slot, code, signal))
      this.#log.debug({ worker: index, pid: started.pid }, 'front worker listening')
      return slot
    } catch (err) {
      detach?.()
      channel.close()
      if (worker.isConnected() || !worker.isDead()) worker.process.kill('SIGKILL')
      const e = err as Error & { code?: string }
      throw e.code === 'GH_ERR_WORKER_START' ? e : errors.GH_ERR_WORKER_START(index, e.message, 'see its log')
    } finally {
      clearTimeout(timer)
    }
  }

  async #stopSlot(s: Slot): Promise<void> {
    s.leaving = true
    if (s.worker.isDead()) return
    const dead = new Promise<void>((r) => s.worker.once('exit', () => r()))
    const killer = setTimeout(() => {
      this.#log.warn({ worker: s.index, pid: s.pid }, 'front worker did not stop in time: killing it')
      s.worker.process.kill('SIGKILL')
    }, this.#opts.stopTimeoutMs)
    s.channel.request('stop', undefined, this.#opts.stopTimeoutMs).catch(() => {})
    await dead
    clearTimeout(killer)
    s.detach()
    s.channel.close()
  }

  #onExit(s: Slot, code: number | null, signal: string | null): void {
    s.detach()
    s.channel.close()
    if (s.leaving || this.#stopping) return
    const i = this.#slots.indexOf(s)
    if (i === -1) return
    this.#slots.splice(i, 1)
    this.#crashes++
    if (Date.now() - s.since > STABLE_AFTER_MS) this.#backoff.reset()
    const delay = this.#backoff.next()
    this.#log.error(
      { worker: s.index, pid: s.pid, code, signal, restartInMs: delay },
      'front worker exited; starting a new one (the others keep serving)',
    )
    const timer = setTimeout(() => {
      this.#respawns.delete(timer)
      void this.#respawn(s.index)
    }, delay)
    this.#respawns.add(timer)
  }

  async #respawn(index: number): Promise<void> {
    if (this.#stopping || this.#config === undefined) return
    try {
      const slot = await this.#startOne(this.#config, index)
      if (this.#stopping) return void this.#stopSlot(slot)
      this.#slots.push(slot)
      this.#slots.sort((a, b) => a.index - b.index)
    } catch (err) {
      this.#log.error({ worker: index, err: (err as Error).message }, 'front worker failed to start again')
      const delay = this.#backoff.next()
      const timer = setTimeout(() => {
        this.#respawns.delete(timer)
        void this.#respawn(index)
      }, delay)
      this.#respawns.add(timer)
    }
  }
}

let clusterReady = false

/** Points cluster.fork at the worker script (its .ts twin when running from source under tsx). */
function setupCluster(): void {
  if (clusterReady) return
  clusterReady = true
  const here = import.meta.url
  const exec = fileURLToPath(new URL(here.endsWith('.ts') ? './front-worker-main.ts' : './front-worker-main.js', here))
  cluster.setupPrimary({ exec, args: [], serialization: 'advanced' })
}

function addressOf(slots: Slot[]): string {
  return (slots[0] as Slot).address
}
