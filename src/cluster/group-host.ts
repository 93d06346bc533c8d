/**
 * The primary's side of daemon groups shared with front workers. The primary supervises the
 * processes once (spawn, respawn, recycle, autoscale, rolling reload); every worker connects to
 * them itself (src/cluster/remote-groups.ts). This tells each attached worker every group's
 * process table whenever it changes, forwards the Supervisor's reload and changed events, and
 * applies what workers report: requests served (maxRequests, inactivityTimeout, idleTime),
 * demand (autoscale), stuck requests (kill the process), and asks to notice touched files.
 * Before a process is stopped, every worker is asked to drain it. What only the dispatching
 * side knows (requests in flight and waiting) is asked of the workers when status() is called.
 */
import type { Logger } from 'pino'
import type { GroupStatus } from '../daemon/group.js'
import type { Supervisor } from '../daemon/supervisor.js'
import { errors } from '../errors.js'
import type { Channel } from './channel.js'
import {
  Topic,
  readGroupBody,
  readLoadBody,
  readServedBody,
  readStuckBody,
  type DrainBody,
  type LoadBody,
  type TablesBody,
} from './group-messages.js'
import { addLoads } from './group-loads.js'

/** A drain request waits for the worker's requests up to the group's gracefulTimeout, and this much longer for the reply. */
const DRAIN_REPLY_SLACK_MS = 1_000
/** A worker that does not say what it has in flight within this is left out of the status (as the admin's other asks do). */
const LOAD_REPLY_MS = 2_000

export class GroupHost {
  readonly #supervisor: Supervisor
  readonly #log: Logger
  readonly #channels = new Set<Channel>()
  #version = 0
  #poll: NodeJS.Timeout | undefined
  #closed = false

  constructor(supervisor: Supervisor, log: Logger) {
    this.#supervisor = supervisor
    this.#log = log.child({ component: 'group-host' })
    supervisor.on('processes', this.#onProcesses)
    supervisor.on('reload', this.#onReload)
    supervisor.on('changed', this.#onChanged)
    supervisor.setDrainElsewhere((group, seq, timeoutMs) => this.#drain({ group, seq, timeoutMs }))
  }

  /** Serves one front worker: sends it the tables now and on every change. The result detaches it. */
  attach(channel: Channel): () => void {
    if (this.#closed) throw errors.GH_ERR_OPT_INVALID('GroupHost.attach() after close()')
    this.#channels.add(channel)
    channel.handle(Topic.tables, () => this.#tables())
    channel.handle(Topic.noticeChanges, async (body) => {
      const b = readGroupBody(body)
      if (b !== undefined) await this.#supervisor.notes(b.group)?.noticeChanges()
      return null
    })
    channel.on(Topic.served, this.#onServed)
    channel.on(Topic.demand, this.#onDemand)
    channel.on(Topic.stuck, this.#onStuck)
    channel.send(Topic.tables, this.#tables())
    this.#startPolling()
    return () => this.#detach(channel)
  }

  /**
   * The Supervisor's status with what every worker has in flight and waiting added: asked now,
   * one message per worker, so a request costs nothing more and the numbers are those of this
   * moment (a status page or a scrape).
   */
  async status(): Promise<GroupStatus[]> {
    const answers = await Promise.all(
      [...this.#channels].map((c) =>
        c.request(Topic.load, undefined, LOAD_REPLY_MS).then(
          (body): LoadBody | undefined => readLoadBody(body) ?? this.#malformed(Topic.load),
          (err: Error & { code?: string }): undefined => {
            // Gone, or still starting (no groups yet, so nothing in flight): only silence is worth a line.
            if (!c.closed && err.code !== 'GH_ERR_IPC_PROTOCOL')
              this.#log.warn({ err: err.message }, 'a front worker did not say what it has in flight')
            return undefined
          },
        ),
      ),
    )
    return addLoads(
      this.#supervisor.status(),
      answers.filter((a): a is LoadBody => a !== undefined),
    )
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const c of [...this.#channels]) this.#detach(c)
    this.#supervisor.off('processes', this.#onProcesses)
    this.#supervisor.off('reload', this.#onReload)
    this.#supervisor.off('changed', this.#onChanged)
    this.#supervisor.setDrainElsewhere(undefined)
  }

  #detach(channel: Channel): void {
    if (!this.#channels.delete(channel)) return
    channel.off(Topic.served, this.#onServed)
    channel.off(Topic.demand, this.#onDemand)
    channel.off(Topic.stuck, this.#onStuck)
    if (this.#channels.size === 0) {
      clearInterval(this.#poll)
      this.#poll = undefined
    }
  }

  #tables(): TablesBody {
    return { version: ++this.#version, groups: this.#supervisor.tables() }
  }

  /**
   * No request passes through the primary, so nothing here would ever ask a group whether its
   * watched files changed: poll them (each group's TouchWatcher still stats at most once per
   * reloadCheckInterval, and at once after fs.watch flagged a change).
   */
  #startPolling(): void {
    if (this.#poll !== undefined) return
    this.#poll = setInterval(() => {
      for (const t of this.#supervisor.tables()) void this.#supervisor.notes(t.name)?.noticeChanges()
    }, this.#supervisor.reloadCheckIntervalMs)
    this.#poll.unref()
  }

  #broadcast(topic: string, body: unknown): void {
    for (const c of this.#channels) c.send(topic, body)
  }

  // Sent at once, not batched: a drain request that follows (a reload retiring the old
  // generation) must find the worker already knowing the new processes.
  readonly #onProcesses = (): void => {
    if (this.#channels.size > 0) this.#broadcast(Topic.tables, this.#tables())
  }

  readonly #onReload = (name: string, reason: string): void => this.#broadcast(Topic.reload, { name, reason })

  readonly #onChanged = (name: string): void => this.#broadcast(Topic.changed, { name })

  #drain(body: DrainBody): Promise<void> {
    const replies = [...this.#channels].map((c) =>
      c.request(Topic.drain, body, body.timeoutMs + DRAIN_REPLY_SLACK_MS).then(
        () => undefined,
        (err: Error) => {
          // A worker that is gone or does not answer has nothing left in flight that we can wait for.
          if (!c.closed) this.#log.warn({ group: body.group, seq: body.seq, err: err.message }, 'drain not confirmed')
        },
      ),
    )
    return Promise.all(replies).then(() => undefined)
  }

  readonly #onServed = (body: unknown): void => {
    const b = readServedBody(body)
    if (b === undefined) return this.#malformed(Topic.served)
    for (const c of b.counts) this.#supervisor.notes(c.group)?.served(c.seq, c.count, c.busy)
  }

  readonly #onDemand = (body: unknown): void => {
    const b = readGroupBody(body)
    if (b === undefined) return this.#malformed(Topic.demand)
    this.#supervisor.notes(b.group)?.demand()
  }

  readonly #onStuck = (body: unknown): void => {
    const b = readStuckBody(body)
    if (b === undefined) return this.#malformed(Topic.stuck)
    this.#supervisor.notes(b.group)?.stuck(b.seq, b.phase)
  }

  #malformed(topic: string): undefined {
    this.#log.warn({ topic, code: 'GH_ERR_IPC_PROTOCOL' }, 'malformed message from a front worker: ignored')
  }
}
