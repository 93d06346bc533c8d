/**
 * A front worker's daemon groups: the processes a primary supervises (src/cluster/group-host.ts),
 * reached directly over this worker's own data connections, so no request or response passes
 * through the primary. Satisfies GroupSource like the Supervisor does, so createGatehouse takes
 * either. What the primary needs for supervision goes back over the Channel: served counts in
 * batches (one note per report interval, sooner for a group near maxRequests), demand, stuck
 * requests; and, when the primary asks (a status page, a scrape), what is in flight and waiting.
 */
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import { errors } from '../errors.js'
import type { GroupHandle } from '../daemon/group.js'
import type { GroupSource, GroupSourceEvents } from '../daemon/group-source.js'
import type { Channel } from './channel.js'
import {
  Topic,
  readDrainBody,
  readReloadBody,
  readTablesBody,
  type LoadBody,
  type ServedBody,
  type StuckBody,
  type TablesBody,
} from './group-messages.js'
import { RemoteGroup, type RemoteReporter } from './remote-group.js'

export interface RemoteGroupsOptions {
  /** Front workers in all: each sends a process at most ceil(concurrency / workers) requests at once. */
  workers: number
  log: Logger
  /** How often served counts go to the primary. Default 100 ms. */
  reportIntervalMs?: number
  /** A data connection's HELLO must be answered within this. Default 10 s. */
  connectTimeoutMs?: number
  /** How long start() waits for the primary's tables. Default 10 s. */
  startTimeoutMs?: number
}

const NOTICE_TIMEOUT_MS = 60_000

export class RemoteGroups extends EventEmitter<GroupSourceEvents> implements GroupSource {
  readonly #channel: Channel
  readonly #opts: Required<RemoteGroupsOptions>
  readonly #groups = new Map<string, RemoteGroup>()
  /** Groups that left the tables, kept until their in-flight requests are over (a drain may still name them). */
  readonly #leaving = new Map<string, RemoteGroup>()
  readonly #reporter: RemoteReporter
  #version = -1
  #served = new Map<string, Map<number, number>>()
  /** Processes the last note called busy: the next one says whether they still are. */
  #busy: Array<{ group: string; seq: number }> = []
  #flushTimer: NodeJS.Timeout | undefined
  #closed = false

  constructor(channel: Channel, opts: RemoteGroupsOptions) {
    super()
    if (!Number.isInteger(opts.workers) || opts.workers < 1)
      throw errors.GH_ERR_OPT_INVALID(`workers must be a positive integer, got ${opts.workers}`)
    this.#channel = channel
    this.#opts = {
      workers: opts.workers,
      reportIntervalMs: opts.reportIntervalMs ?? 100,
      connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
      startTimeoutMs: opts.startTimeoutMs ?? 10_000,
      log: opts.log.child({ component: 'remote-groups' }),
    }
    this.#reporter = {
      served: (group, seq, maxRequests, now) => this.#countServed(group, seq, maxRequests, now),
      demand: (group) => channel.send(Topic.demand, { group }),
      stuck: (group, seq, phase) => channel.send(Topic.stuck, { group, seq, phase } satisfies StuckBody),
      // A reload the check starts may take as long as a generation takes to start.
      noticeChanges: async (group) => {
        await channel.request(Topic.noticeChanges, { group }, NOTICE_TIMEOUT_MS)
      },
    }
    channel.on(Topic.tables, this.#onTables)
    channel.on(Topic.reload, this.#onReload)
    channel.on(Topic.changed, this.#onChanged)
    channel.handle(Topic.drain, async (body) => {
      const b = readDrainBody(body)
      if (b === undefined) throw errors.GH_ERR_IPC_PROTOCOL(`malformed ${Topic.drain}`)
      await (this.#groups.get(b.group) ?? this.#leaving.get(b.group))?.drain(b.seq, b.timeoutMs)
      return null
    })
    channel.handle(Topic.load, (): LoadBody => ({
      groups: [...this.#groups.values(), ...this.#leaving.values()].map((g) => g.load()),
    }))
  }

  /** Resolves once the primary's tables are applied and the connections to ready processes are up. */
  async start(): Promise<void> {
    const body = await this.#channel.request(Topic.tables, undefined, this.#opts.startTimeoutMs)
    const tables = readTablesBody(body)
    if (tables === undefined) throw errors.GH_ERR_IPC_PROTOCOL(`malformed ${Topic.tables} reply`)
    await this.#apply(tables)
  }

  group(name: string): GroupHandle {
    const g = this.#groups.get(name)
    if (g === undefined) throw errors.GH_ERR_OPT_INVALID(`no daemon group named ${JSON.stringify(name)}`)
    return g
  }

  /** The names of the groups in the primary's newest table. */
  names(): string[] {
    return [...this.#groups.keys()]
  }

  /** Stops taking requests: waiting ones fail, open connections close (their requests fail). Served counts still go out. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#flush()
    this.#channel.off(Topic.tables, this.#onTables)
    this.#channel.off(Topic.reload, this.#onReload)
    this.#channel.off(Topic.changed, this.#onChanged)
    for (const g of [...this.#groups.values(), ...this.#leaving.values()]) g.destroy()
    this.#groups.clear()
    this.#leaving.clear()
  }

  #apply(tables: TablesBody): Promise<void> {
    if (this.#closed || tables.version <= this.#version) return Promise.resolve()
    this.#version = tables.version
    const updates: Promise<void>[] = []
    const listed = new Set(tables.groups.map((t) => t.name))
    for (const [name, g] of this.#groups) {
      if (listed.has(name)) continue
      this.#groups.delete(name)
      this.#leaving.set(name, g)
      void g.retire().finally(() => {
        if (this.#leaving.get(name) === g) this.#leaving.delete(name)
      })
    }
    for (const table of tables.groups) {
      let g = this.#groups.get(table.name)
      if (g === undefined) {
        g = new RemoteGroup(table, {
          workers: this.#opts.workers,
          connectTimeoutMs: this.#opts.connectTimeoutMs,
          reporter: this.#reporter,
          log: this.#opts.log,
        })
        this.#groups.set(table.name, g)
      }
      updates.push(g.update(table))
    }
    return Promise.all(updates).then(() => undefined)
  }

  /**
   * One note per report interval carries every count; a process of a group with maxRequests is
   * reported as soon as a tenth of it accrued (at least every request for small limits), so it is
   * recycled after about maxRequests, not a whole interval's worth more.
   */
  #countServed(group: string, seq: number, maxRequests: number, now: boolean): void {
    let counts = this.#served.get(group)
    if (counts === undefined) this.#served.set(group, (counts = new Map()))
    const n = (counts.get(seq) ?? 0) + 1
    counts.set(seq, n)
    // Without maxRequests nothing in the primary needs a count sooner than the interval (it wakes the primary).
    if (now || (maxRequests > 0 && n >= Math.max(1, Math.floor(maxRequests / 10)))) return this.#flush()
    this.#flushLater()
  }

  #flushLater(): void {
    if (this.#flushTimer !== undefined || this.#closed) return
    this.#flushTimer = setTimeout(() => this.#flush(), this.#opts.reportIntervalMs)
    this.#flushTimer.unref()
  }

  /**
   * Sends the counts, with every process this worker has requests on marked busy. While any
   * is, a note goes every report interval even without new requests, and the first one after
   * it is done says so: the primary's idle timers (inactivityTimeout, idleTime) run only for
   * processes no worker called busy since.
   */
  #flush(): void {
    clearTimeout(this.#flushTimer)
    this.#flushTimer = undefined
    const entries = new Map<string, ServedBody['counts'][number]>()
    const entry = (group: string, seq: number): ServedBody['counts'][number] => {
      const key = `${seq} ${group}`
      let e = entries.get(key)
      if (e === undefined) entries.set(key, (e = { group, seq, count: 0, busy: false }))
      return e
    }
    for (const [group, m] of this.#served) for (const [seq, count] of m) entry(group, seq).count = count
    for (const { group, seq } of this.#busy) entry(group, seq)
    const busy: Array<{ group: string; seq: number }> = []
    for (const g of [...this.#groups.values(), ...this.#leaving.values()]) {
      for (const seq of g.busy()) {
        entry(g.name, seq).busy = true
        busy.push({ group: g.name, seq })
      }
    }
    this.#served = new Map()
    this.#busy = busy
    if (entries.size > 0) this.#channel.send(Topic.served, { counts: [...entries.values()] } satisfies ServedBody)
    if (busy.length > 0) this.#flushLater()
  }

  readonly #onTables = (body: unknown): void => {
    const tables = readTablesBody(body)
    if (tables === undefined) {
      this.#opts.log.warn({ code: 'GH_ERR_IPC_PROTOCOL' }, `malformed ${Topic.tables} note from the primary: ignored`)
      return
    }
    void this.#apply(tables)
  }

  readonly #onReload = (body: unknown): void => {
    const b = readReloadBody(body)
    if (b !== undefined) this.emit('reload', b.name, b.reason)
  }

  readonly #onChanged = (body: unknown): void => {
    const name = (body as { name?: unknown } | null)?.name
    if (typeof name === 'string') this.emit('changed', name)
  }
}
