/**
 * The front's handle on one daemon process: spawns it with its control channel on fd 3, waits
 * for `ready`, holds its data connection, counts outstanding work, and stops it (shutdown
 * message, then SIGTERM, then SIGKILL, each after a named timeout). A control line that does
 * not validate ends that process (it is replaced like a crashed one), never the front.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import type { Duplex, Readable } from 'node:stream'
import type { Logger } from 'pino'
import { errors } from '../errors.js'
import { WorkerConnection } from '../ipc/client.js'
import { ControlChannel } from '../ipc/control-channel.js'
import {
  PROTOCOL_VERSION,
  readFromWorker,
  type FromWorker,
  type ProviderMethodName,
  type ToWorker,
  type WorkerInit,
} from '../ipc/protocol.js'
import { removeSocket } from '../ipc/socket-path.js'
import { childWith, foreignFields } from '../log.js'
import { OutputRecords } from './output-records.js'
import type { DispatchSlot } from './dispatch.js'
import type { SpawnSpec } from './spawn-spec.js'

export type ProcessState = 'starting' | 'ready' | 'draining' | 'stopping' | 'dead'

/** After the shutdown message's grace, how long before SIGTERM, then before SIGKILL. */
export const SIGTERM_AFTER_MS = 2_000
export const SIGKILL_AFTER_MS = 2_000

export interface ExitInfo {
  code: number | null
  signal: NodeJS.Signals | null
  /** We asked for it (stop, recycle, reload), as opposed to a crash. */
  expected: boolean
  /** Killed because a request was stuck past its timeout. */
  stuck: boolean
}

export interface WorkerProcessOptions {
  group: string
  seq: number
  spec: SpawnSpec
  init: Omit<WorkerInit, 'type' | 'v' | 'kind'>
  secret: Buffer
  log: Logger
  startTimeoutMs: number
}

export interface ProcessStatus {
  seq: number
  pid: number | undefined
  state: ProcessState
  inflight: number
  served: number
  startedAt: number
}

export class WorkerProcess implements DispatchSlot {
  readonly seq: number
  /** The group generation this process serves in (a rolling reload starts the next one). */
  generation = 0
  readonly startedAt = Date.now()
  state: ProcessState = 'starting'
  /** Requests outstanding (bounded by the group's concurrency). */
  inflight = 0
  /** Provider calls outstanding. */
  calls = 0
  /** Requests dispatched over its life (for maxRequests). */
  served = 0
  /** The contract methods of the group's provider module, as the process reported them when ready. */
  providerMethods: ProviderMethodName[] | undefined
  idleTimer: NodeJS.Timeout | undefined
  onExit: (info: ExitInfo) => void = () => {}
  /** The process's provider said its data changed (env.changed()). */
  onChanged: () => void = () => {}
  readonly #opts: WorkerProcessOptions
  #child: ChildProcess | null = null
  #control: ControlChannel<FromWorker, ToWorker> | null = null
  /** Where control messages go: #waitReady's handler until ready, then #onMessage. */
  #route: (msg: FromWorker) => void = () => {}
  #conn: WorkerConnection | null = null
  #expected = false
  #stuck = false
  #exited: Promise<void>
  #markExited!: () => void
  #idleWaiters: Array<() => void> = []
  #outputs: OutputRecords[] = []
  /** The group's logger, bound to the group once (its parent may be already). */
  readonly #log: Logger

  constructor(opts: WorkerProcessOptions) {
    this.seq = opts.seq
    this.#opts = opts
    this.#log = childWith(opts.log, { group: opts.group })
    this.#exited = new Promise((resolve) => {
      this.#markExited = resolve
    })
  }

  get pid(): number | undefined {
    return this.#child?.pid
  }

  get connection(): WorkerConnection {
    if (this.#conn === null)
      throw errors.GH_ERR_IPC_CLOSED(`group ${this.#opts.group} process ${this.seq} has no connection`)
    return this.#conn
  }

  get socketPath(): string {
    return this.#opts.init.socketPath
  }

  get dispatchable(): boolean {
    return this.state === 'ready' && !this.connectionClosed
  }

  get outstanding(): number {
    return this.inflight + this.calls
  }

  status(): ProcessStatus {
    return {
      seq: this.seq,
      pid: this.pid,
      state: this.state,
      inflight: this.inflight,
      served: this.served,
      startedAt: this.startedAt,
    }
  }

  /** Spawns, sends init, waits for `ready` and connects; rejects (and kills) on failure. */
  async start(): Promise<void> {
    const { spec, group, startTimeoutMs } = this.#opts
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    })
    this.#child = child
    this.#control = this.#openControl(child)
    this.#pipeOutput(child.stdout, 'stdout')
    this.#pipeOutput(child.stderr, 'stderr')
    child.once('exit', (code, signal) => this.#onChildExit(code, signal))
    child.on('error', (err) => {
      this.#log.error({ pid: this.pid, seq: this.seq, err: err.message }, 'daemon process error')
      // A child that could not be spawned (ENOENT, EAGAIN under a process limit) emits 'error'
      // and never 'exit': it is dead all the same, or stopping it would wait forever.
      if (child.pid === undefined && this.state !== 'dead') this.#onChildExit(null, null)
    })
    try {
      await this.#waitReady(child, startTimeoutMs)
      this.#conn = await WorkerConnection.connect(group, this.#opts.init.socketPath, this.#opts.secret, startTimeoutMs)
    } catch (err) {
      // Not "expected": a group respawns (with backoff) a replacement that failed to start.
      this.kill(false)
      throw err
    }
    this.#route = (msg) => {
      if (msg.type === 'changed') this.onChanged()
    }
    this.#conn.onClose(() => {
      // The data socket is the process's reason to live: if it breaks, the process is replaced.
      if (this.state !== 'dead' && this.state !== 'stopping') this.kill(false)
    })
    if (this.state === 'starting') this.state = 'ready'
  }

  /**
   * True once the data socket is gone. The child's exit (and so state 'dead') can come a little
   * later; until then the process must not be picked for new requests.
   */
  get connectionClosed(): boolean {
    return this.#conn?.closed ?? false
  }

  /** Resolves when no request or call is outstanding, or after timeoutMs. */
  whenIdle(timeoutMs: number): Promise<void> {
    if (this.outstanding === 0 || this.state === 'dead') return Promise.resolve()
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.#idleWaiters = this.#idleWaiters.filter((w) => w !== done)
        resolve()
      }
      const timer = setTimeout(done, timeoutMs)
      this.#idleWaiters.push(done)
    })
  }

  /** The group calls this after each completed request or call. */
  settled(): void {
    if (this.outstanding > 0) return
    const waiters = this.#idleWaiters
    this.#idleWaiters = []
    for (const w of waiters) w()
  }

  /** Graceful stop: the worker finishes open streams (up to graceMs) and exits; then signals. */
  async stop(graceMs: number): Promise<void> {
    if (this.state === 'dead') return
    this.#expected = true
    this.state = 'stopping'
    clearTimeout(this.idleTimer)
    const child = this.#child
    if (child === null) return
    this.#control?.send({ type: 'shutdown', graceMs })
    if (await this.#exitWithin(graceMs + SIGTERM_AFTER_MS)) return
    child.kill('SIGTERM')
    if (await this.#exitWithin(SIGKILL_AFTER_MS)) return
    child.kill('SIGKILL')
    await this.#exited
  }

  /** Immediate SIGKILL. `expected` false makes the group treat it as a crash (respawn). */
  kill(expected = true, stuck = false): void {
    if (expected) this.#expected = true
    if (stuck) this.#stuck = true
    this.#conn?.destroy()
    if (this.#child !== null && this.#child.exitCode === null && this.#child.signalCode === null)
      this.#child.kill('SIGKILL')
  }

  exited(): Promise<void> {
    return this.#exited
  }

  #waitReady(child: ChildProcess, timeoutMs: number): Promise<void> {
    const { group } = this.#opts
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => finish(errors.GH_ERR_GROUP_FAILED(group, `process did not report ready within ${timeoutMs} ms`)),
        timeoutMs,
      )
      this.#route = (msg) => {
        if (msg.type === 'ready') {
          this.providerMethods = msg.providerMethods
          finish()
        } else if (msg.type === 'failed')
          finish(errors.GH_ERR_GROUP_FAILED(group, `process failed to start: ${msg.message}`))
      }
      const onExit = (code: number | null, signal: string | null): void => {
        finish(errors.GH_ERR_GROUP_FAILED(group, `process exited before ready (code ${code}, signal ${signal})`))
      }
      const onSpawnError = (err: Error): void => {
        if (child.pid === undefined)
          finish(errors.GH_ERR_GROUP_FAILED(group, `process could not be started: ${err.message}`))
      }
      const finish = (err?: Error): void => {
        clearTimeout(timer)
        this.#route = () => {}
        child.off('exit', onExit)
        child.off('error', onSpawnError)
        if (err) reject(err)
        else resolve()
      }
      child.once('exit', onExit)
      child.once('error', onSpawnError)
      this.#control?.send({
        type: 'init',
        v: PROTOCOL_VERSION,
        kind: this.#opts.spec.kind,
        ...this.#opts.init,
      } satisfies WorkerInit)
    })
  }

  #exitWithin(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms)
      void this.#exited.then(() => {
        clearTimeout(timer)
        resolve(true)
      })
    })
  }

  #onChildExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.state = 'dead'
    clearTimeout(this.idleTimer)
    this.#conn?.destroy()
    this.#control?.destroy()
    removeSocket(this.#opts.init.socketPath)
    // A crash's trace is the process's last output: logged before the group logs the exit.
    for (const out of this.#outputs) out.flush()
    this.settled()
    this.#markExited()
    this.onExit({ code, signal, expected: this.#expected, stuck: this.#stuck })
  }

  #openControl(child: ChildProcess): ControlChannel<FromWorker, ToWorker> | null {
    const stream = child.stdio[3] as Duplex | null | undefined
    if (stream === null || stream === undefined) return null
    const log = this.#log
    return new ControlChannel<FromWorker, ToWorker>(stream, {
      read: readFromWorker,
      onMessage: (msg) => {
        // The worker's fields first: it must not overwrite which process the record is of. Its
        // fields that repeat the logger's own keys (group, level, msg) are renamed (src/log.ts).
        if (msg.type === 'log')
          log[msg.level](
            { ...foreignFields(log, msg.fields ?? {}), pid: this.pid, seq: this.seq, worker: true },
            msg.msg,
          )
        else this.#route(msg)
      },
      onInvalid: (why) => {
        log.error(
          { pid: this.pid, seq: this.seq, code: 'GH_ERR_IPC_PROTOCOL' },
          `control channel: ${why}; ending the process`,
        )
        this.kill(false)
      },
      onClose: () => {},
    })
  }

  #pipeOutput(stream: Readable | null, name: 'stdout' | 'stderr'): void {
    if (stream === null) return
    const log = this.#log
    const out = new OutputRecords((text) => {
      const fields = { pid: this.pid, seq: this.seq, stream: name }
      if (name === 'stderr') log.warn(fields, text)
      else log.info(fields, text)
    })
    this.#outputs.push(out)
    stream.on('data', (chunk: Buffer) => out.push(chunk))
    stream.once('end', () => out.flush())
  }
}
