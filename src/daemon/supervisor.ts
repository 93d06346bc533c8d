/**
 * Owns every daemon group: starts them, hands out GroupHandles, reloads them (one, or all on
 * SIGHUP), reports status, and stops them — close() drains, destroy() kills; both idempotent.
 * Emits 'reload' (name, reason) after a group switched to new processes, so the front can
 * empty the credential cache of that group's provider, and 'processes' (name) whenever what
 * front workers need to reach a group changed (src/cluster/group-host.ts sends them tables()).
 */
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { GroupConfig } from '../config/types.js'
import { errors } from '../errors.js'
import { createRuntimeDir, removeRuntimeDir, type RuntimeDir } from '../ipc/socket-path.js'
import { Group, type GroupHandle, type GroupStatus } from './group.js'
import type { GroupSource } from './group-source.js'
import type { DrainElsewhere, GroupTable, RemoteDispatchNotes } from './group-table.js'

export interface SupervisorOptions {
  groups: GroupConfig[]
  /** Private directory for the sockets; default a fresh mkdtemp under os.tmpdir(). */
  runtimeDir?: string
  log: Logger
  /** How long a new process may take to report ready. Default 30 s. */
  startTimeoutMs?: number
  /** Minimum time between two stat() rounds of a group's watched files. Default 100 ms. */
  reloadCheckIntervalMs?: number
}

export type SupervisorState = 'idle' | 'starting' | 'running' | 'closing' | 'closed'

export interface SupervisorEvents {
  reload: [name: string, reason: string]
  /** A group's provider module said its data changed (env.changed()). */
  changed: [name: string]
  /** A group's process table changed, or the group was added, reconfigured or removed. */
  processes: [name: string]
}

export class Supervisor extends EventEmitter<SupervisorEvents> implements GroupSource {
  #state: SupervisorState = 'idle'
  readonly #groups = new Map<string, Group>()
  readonly #log: Logger
  readonly #opts: SupervisorOptions
  #runtime: RuntimeDir | null = null
  #closing: Promise<void> | null = null
  #nextIndex = 0
  #drainElsewhere: DrainElsewhere | undefined

  constructor(opts: SupervisorOptions) {
    super()
    validate(opts)
    this.#opts = opts
    this.#log = opts.log
  }

  get state(): SupervisorState {
    return this.#state
  }

  /** Minimum time between two stat() rounds of a group's watched files. */
  get reloadCheckIntervalMs(): number {
    return this.#opts.reloadCheckIntervalMs ?? 100
  }

  /** Every group's process table, for front workers that dispatch to the processes themselves. */
  tables(): GroupTable[] {
    return [...this.#groups.values()].map((g) => g.table())
  }

  /** Where front workers report what they dispatched to group `name`; undefined for no such group. */
  notes(name: string): RemoteDispatchNotes | undefined {
    return this.#groups.get(name)
  }

  /** Set while front workers dispatch: a process is stopped only after they are done with it. */
  setDrainElsewhere(fn: DrainElsewhere | undefined): void {
    this.#drainElsewhere = fn
  }

  /** Resolves when every group has all its processes ready; on failure stops what started. */
  async start(): Promise<void> {
    if (this.#state !== 'idle') throw errors.GH_ERR_OPT_INVALID('Supervisor.start() called twice')
    this.#state = 'starting'
    this.#runtime = createRuntimeDir(this.#opts.runtimeDir)
    for (const config of this.#opts.groups) this.#groups.set(config.name, this.#newGroup(config))
    warnRootGroups(this.#opts.groups, this.#log)
    try {
      await Promise.all([...this.#groups.values()].map((g) => g.start()))
    } catch (err) {
      await this.destroy()
      throw err
    }
    if (this.#state === 'starting') this.#state = 'running'
  }

  group(name: string): GroupHandle {
    const g = this.#groups.get(name)
    if (g === undefined) throw errors.GH_ERR_OPT_INVALID(`no daemon group named ${JSON.stringify(name)}`)
    return g
  }

  /** Rolling restart of one group; resolves once new processes serve (or the old ones were kept). */
  async reload(name: string, reason: string): Promise<boolean> {
    const g = this.#groups.get(name)
    if (g === undefined) throw errors.GH_ERR_OPT_INVALID(`no daemon group named ${JSON.stringify(name)}`)
    return g.reload(reason)
  }

  async reloadAll(reason: string): Promise<void> {
    await Promise.all([...this.#groups.values()].map((g) => g.reload(reason)))
  }

  /** A configuration reload added a group: starts it (all processes ready) or rejects and leaves nothing behind. */
  async add(config: GroupConfig): Promise<void> {
    if (this.#state !== 'running')
      throw errors.GH_ERR_OPT_INVALID(
        `cannot add group ${JSON.stringify(config.name)}: the supervisor is ${this.#state}`,
      )
    if (this.#groups.has(config.name))
      throw errors.GH_ERR_OPT_INVALID(`groups: duplicate group name ${JSON.stringify(config.name)}`)
    validate({ ...this.#opts, groups: [config] })
    const group = this.#newGroup(config)
    try {
      await group.start()
    } catch (err) {
      await group.destroy()
      throw err
    }
    this.#groups.set(config.name, group)
    this.emit('processes', config.name)
  }

  /** A configuration reload changed a group's settings: rolling reload onto them (false: they failed; the old ones stay). */
  async reconfigure(config: GroupConfig, reason: string): Promise<boolean> {
    const g = this.#groups.get(config.name)
    if (g === undefined) throw errors.GH_ERR_OPT_INVALID(`no daemon group named ${JSON.stringify(config.name)}`)
    validate({ ...this.#opts, groups: [config] })
    return g.reconfigure(config, reason)
  }

  /** A configuration reload removed a group: drains it (gracefulTimeout) and stops its processes. */
  async remove(name: string): Promise<void> {
    const g = this.#groups.get(name)
    if (g === undefined) return
    this.#groups.delete(name)
    this.emit('processes', name)
    await g.close()
  }

  status(): GroupStatus[] {
    return [...this.#groups.values()].map((g) => g.status())
  }

  /** Graceful: stop accepting, drain up to each group's gracefulTimeout, stop the processes. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown((g) => g.close())
    return this.#closing
  }

  /** Immediate: SIGKILL every process. */
  destroy(): Promise<void> {
    if (this.#state === 'closed') return this.#closing ?? Promise.resolve()
    return this.#shutdown((g) => g.destroy())
  }

  #newGroup(config: GroupConfig): Group {
    const group: Group = new Group(config, {
      index: this.#nextIndex++,
      runtimeDir: (this.#runtime as RuntimeDir).path,
      log: this.#log,
      startTimeoutMs: this.#opts.startTimeoutMs ?? 30_000,
      reloadCheckIntervalMs: this.#opts.reloadCheckIntervalMs ?? 100,
      onReload: (reason) => this.emit('reload', config.name, reason),
      onChanged: () => this.emit('changed', config.name),
      // Only groups the supervisor holds are told about: one that is being added is announced once started.
      onProcesses: () => {
        if (this.#groups.get(config.name) === group) this.emit('processes', config.name)
      },
      drainElsewhere: (seq, timeoutMs) => this.#drainElsewhere?.(config.name, seq, timeoutMs) ?? Promise.resolve(),
    })
    return group
  }

  async #shutdown(stop: (g: Group) => Promise<void>): Promise<void> {
    this.#state = 'closing'
    await Promise.all([...this.#groups.values()].map(stop))
    if (this.#runtime !== null) removeRuntimeDir(this.#runtime)
    this.#state = 'closed'
  }
}

function validate(opts: SupervisorOptions): void {
  const seen = new Set<string>()
  for (const g of opts.groups) {
    if (seen.has(g.name)) throw errors.GH_ERR_OPT_INVALID(`groups: duplicate group name ${JSON.stringify(g.name)}`)
    seen.add(g.name)
    for (const key of ['processes', 'concurrency'] as const) {
      if (!Number.isInteger(g[key]) || g[key] < 1)
        throw errors.GH_ERR_OPT_INVALID(`groups.${g.name}.${key} must be a positive integer, got ${g[key]}`)
    }
    if (g.maxProcesses !== undefined && (!Number.isInteger(g.maxProcesses) || g.maxProcesses < g.processes)) {
      throw errors.GH_ERR_OPT_INVALID(
        `groups.${g.name}.processes.max must be an integer no less than processes.min (${g.processes}), got ${g.maxProcesses}`,
      )
    }
    if (g.idleTimeMs !== undefined && (!Number.isInteger(g.idleTimeMs) || g.idleTimeMs < 1)) {
      throw errors.GH_ERR_OPT_INVALID(`groups.${g.name}.idleTime must be more than 0 ms, got ${g.idleTimeMs}`)
    }
    for (const key of [
      'maxRequests',
      'requestTimeoutMs',
      'gracefulTimeoutMs',
      'inactivityTimeoutMs',
      'queueTimeoutMs',
    ] as const) {
      if (!Number.isInteger(g[key]) || g[key] < 0)
        throw errors.GH_ERR_OPT_INVALID(`groups.${g.name}.${key} must be a non-negative integer, got ${g[key]}`)
    }
  }
}

/**
 * A front started as root drops a group's processes to `user`; a group without one would run
 * its app as root. That is allowed (containers often run everything as root) but never quietly.
 */
function warnRootGroups(groups: readonly GroupConfig[], log: Logger): void {
  if (process.getuid?.() !== 0) return
  for (const g of groups) {
    if (g.user === undefined)
      log.warn(
        { group: g.name },
        `groups.${g.name}.user is not set: the group's processes run as root; set user (and group) to drop privileges`,
      )
  }
}
