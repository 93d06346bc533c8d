/**
 * The Prometheus metrics of one gateway: a registry of its own (never prom-client's global
 * default, so several gateways can live in one process), names prefixed `gatehouse_`.
 * Beside them, prom-client's default process and Node.js metrics under their usual unprefixed
 * names (process_cpu_seconds_total, process_resident_memory_bytes, nodejs_eventloop_lag_seconds…),
 * because that is what dashboards and alerts written for any Node.js service look for, and
 * gatehouse_build_info{version} = 1 to tell which release answers.
 * The request path reports through three narrow callbacks (request, auth, provider call);
 * everything else (cache, groups) is read from its owner when /metrics is scraped.
 * Labels are bounded and never carry a user name, a password or a header value: route labels
 * are configured route paths, provider labels configured provider names.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import { packageVersion } from '../package-root.js'
import type { GroupStatus } from '../daemon/group.js'
import { authResultLabel, type AuthResultLabel } from './auth-result.js'
import { LabelTally, RequestTally, tallyHistogram } from './request-tally.js'
import { StatusSampler } from './status-sampler.js'

export type { AuthResultLabel }

/** What the metrics read at scrape time; swapped on a configuration reload. */
export interface MetricsSources {
  cache():
    | {
        identities: { hits: number; misses: number; size: number }
        realmHashes: { hits: number; misses: number; size: number }
      }
    | undefined
  groups(): GroupStatus[]
  /** Rest given to each threaded provider's threads so far (thread-pool.ts, shareWhenBusy). */
  providerRests?(): Array<{ provider: string; restedMs: number }>
  /** The shared state store (state.redis), when configured: reachable now, and its fallbacks so far. */
  state?(): { store: string; up: boolean; throttleFallbacks: number; nonceUnavailable: number; resyncs: number }
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

export class GatewayMetrics {
  readonly registry = new Registry()
  #sources: MetricsSources = { cache: () => undefined, groups: () => [] }
  /** Requests, their durations and 503s by route, and auth outcomes: plain numbers until a scrape (request-tally.ts). */
  readonly #tally = new RequestTally(LATENCY_BUCKETS)
  readonly #authTally = new LabelTally(['provider', 'result'] as const)
  readonly #providerCalls: Histogram<'provider' | 'method' | 'outcome'>
  readonly #reloads: Counter<'result'>
  /** The last minutes slot by slot, for the status page (status-sampler.ts). */
  readonly sampler: StatusSampler

  constructor() {
    const registers = [this.registry]
    const tally = this.#tally
    new Counter({
      name: 'gatehouse_http_requests_total',
      help: 'Requests answered by the front, by route and status',
      labelNames: ['route', 'status'],
      registers,
      collect(this: Counter<'route' | 'status'>) {
        this.reset()
        for (const [route, t] of tally.routes())
          for (const [status, n] of t.statuses) this.inc({ route, status: String(status) }, n)
      },
    })
    this.registry.registerMetric(
      tallyHistogram('gatehouse_http_request_duration_seconds', 'Time from request to response end, by route', tally),
    )
    new Counter({
      name: 'gatehouse_http_unavailable_total',
      help: 'Requests answered 503 (group down or busy, provider unavailable or throttled), by route',
      labelNames: ['route'],
      registers,
      collect(this: Counter<'route'>) {
        this.reset()
        for (const [route, t] of tally.routes()) if (t.unavailable > 0) this.inc({ route }, t.unavailable)
      },
    })
    new Counter({
      name: 'gatehouse_auth_total',
      help: 'Authentication outcomes by provider and result',
      labelNames: ['provider', 'result'],
      registers,
      collect: this.#authTally.collector(),
    })
    this.#providerCalls = new Histogram({
      name: 'gatehouse_provider_call_duration_seconds',
      help: 'Provider call latency by provider, method and outcome (ok, error)',
      labelNames: ['provider', 'method', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    })
    const sources = () => this.#sources
    new Counter({
      name: 'gatehouse_provider_rest_seconds_total',
      help: "Time provider threads rested because the front's event loop was busy (shareWhenBusy), by provider",
      labelNames: ['provider'],
      registers,
      collect(this: Counter<'provider'>) {
        this.reset()
        for (const r of sources().providerRests?.() ?? []) this.inc({ provider: r.provider }, r.restedMs / 1000)
      },
    })
    this.#reloads = new Counter({
      name: 'gatehouse_config_reloads_total',
      help: 'Configuration reloads (SIGHUP, gatehouse reload) by result',
      labelNames: ['result'],
      registers,
    })
    this.#cacheMetrics(registers)
    this.#groupMetrics(registers)
    this.#stateMetrics(registers)
    new Gauge({
      name: 'gatehouse_build_info',
      help: 'Always 1; the version label names the running release',
      labelNames: ['version'],
      registers,
    }).set({ version: packageVersion() }, 1)
    collectDefaultMetrics({ register: this.registry })
    this.sampler = new StatusSampler({
      cache: () => {
        const c = this.#sources.cache()
        return c === undefined
          ? undefined
          : { hits: c.identities.hits + c.realmHashes.hits, misses: c.identities.misses + c.realmHashes.misses }
      },
    })
  }

  /** Where cache and group numbers come from (the running gateway sets it, again after each reload). */
  setSources(sources: MetricsSources): void {
    this.#sources = sources
  }

  /** The primary of front workers reports them (registered only there). */
  addWorkerSources(sources: { workers(): number; crashes(): number }): void {
    const registers = [this.registry]
    new Gauge({
      name: 'gatehouse_front_workers',
      help: 'Front worker processes running (workers:)',
      registers,
      collect(this: Gauge) {
        this.set(sources.workers())
      },
    })
    new Counter({
      name: 'gatehouse_front_worker_restarts_total',
      help: 'Front workers started again after an unexpected exit',
      registers,
      collect(this: Counter) {
        this.reset()
        this.inc(sources.crashes())
      },
    })
  }

  /** `route` is the configured route path (or the framework's route pattern), never the raw URL. */
  request(route: string, status: number, seconds: number): void {
    this.#tally.record(route, status, seconds)
    this.sampler.request()
  }

  /** One authentication decision; see authResultLabel for the result names. */
  auth(provider: string, outcome: string, reason?: string): void {
    const result = authResultLabel(outcome, reason)
    if (result === undefined) return
    this.#authTally.inc(provider, result)
    this.sampler.auth(result)
  }

  providerCall(provider: string, method: string, outcome: 'ok' | 'error', seconds: number): void {
    this.#providerCalls.observe({ provider, method, outcome }, seconds)
    this.sampler.providerCall(provider, outcome, seconds)
  }

  configReload(result: 'ok' | 'failed'): void {
    this.#reloads.inc({ result })
  }

  /** The Prometheus text exposition. */
  text(): Promise<string> {
    return this.registry.metrics()
  }

  get contentType(): string {
    return this.registry.contentType
  }

  #cacheMetrics(registers: Registry[]): void {
    const sources = () => this.#sources
    const each = (pick: (c: { hits: number; misses: number; size: number }) => number) =>
      function (this: Counter<'cache'> | Gauge<'cache'>) {
        const c = sources().cache()
        this.reset()
        if (c === undefined) return
        ;(this as Gauge<'cache'>).inc({ cache: 'identities' }, pick(c.identities))
        ;(this as Gauge<'cache'>).inc({ cache: 'realm_hashes' }, pick(c.realmHashes))
      }
    new Counter({
      name: 'gatehouse_credential_cache_hits_total',
      help: 'Credential cache hits (identities: Basic and groups; realm_hashes: Digest HA1)',
      labelNames: ['cache'],
      registers,
      collect: each((c) => c.hits),
    })
    new Counter({
      name: 'gatehouse_credential_cache_misses_total',
      help: 'Credential cache misses (each one asked a provider)',
      labelNames: ['cache'],
      registers,
      collect: each((c) => c.misses),
    })
    new Gauge({
      name: 'gatehouse_credential_cache_entries',
      help: 'Entries in the credential cache',
      labelNames: ['cache'],
      registers,
      collect: each((c) => c.size),
    })
  }

  /** Only with state.redis or front workers: a gateway keeping its state in process has no store to report on. */
  #stateMetrics(registers: Registry[]): void {
    const sources = () => this.#sources
    new Gauge({
      name: 'gatehouse_state_store_up',
      help: 'Whether the shared state store answers, by store (redis, or primary: the primary of front workers): 1 reachable, 0 not (fallbacks apply)',
      labelNames: ['store'],
      registers,
      // Summed over front workers (the admin listener's view), 1 must mean every worker reaches it.
      aggregator: 'min',
      collect(this: Gauge<'store'>) {
        this.reset()
        const s = sources().state?.()
        if (s !== undefined) this.set({ store: s.store }, s.up ? 1 : 0)
      },
    })
    new Counter({
      name: 'gatehouse_state_store_fallbacks_total',
      help: 'Operations the shared state store could not answer, by state: throttle (counted in this instance instead), nonce_counts (Digest answered 503)',
      labelNames: ['store', 'state'],
      registers,
      collect(this: Counter<'store' | 'state'>) {
        this.reset()
        const s = sources().state?.()
        if (s === undefined) return
        this.inc({ store: s.store, state: 'throttle' }, s.throttleFallbacks)
        this.inc({ store: s.store, state: 'nonce_counts' }, s.nonceUnavailable)
      },
    })
    new Counter({
      name: 'gatehouse_state_store_resyncs_total',
      help: 'Times the credential caches were emptied after a disconnect from the shared state store (invalidations may have been missed), by store',
      labelNames: ['store'],
      registers,
      collect(this: Counter<'store'>) {
        this.reset()
        const s = sources().state?.()
        if (s !== undefined) this.inc({ store: s.store }, s.resyncs)
      },
    })
  }

  #groupMetrics(registers: Registry[]): void {
    const sources = () => this.#sources
    const perGroup = (pick: (g: GroupStatus) => number) =>
      function (this: Gauge<'group'>) {
        this.reset()
        for (const g of sources().groups()) this.set({ group: g.name }, pick(g))
      }
    new Gauge({
      name: 'gatehouse_group_processes',
      help: 'Daemon processes by group and state (starting, ready, draining, stopping)',
      labelNames: ['group', 'state'],
      registers,
      collect(this: Gauge<'group' | 'state'>) {
        this.reset()
        for (const g of sources().groups()) {
          for (const state of ['starting', 'ready', 'draining', 'stopping'] as const) {
            this.set({ group: g.name, state }, g.processes.filter((p) => p.state === state).length)
          }
        }
      },
    })
    const gauge = (name: string, help: string, pick: (g: GroupStatus) => number) =>
      new Gauge({ name, help, labelNames: ['group'], registers, collect: perGroup(pick) })
    // Totals kept by the group; exposed as counters (they only grow while the group lives).
    const counter = (name: string, help: string, pick: (g: GroupStatus) => number) =>
      new Counter({
        name,
        help,
        labelNames: ['group'],
        registers,
        collect(this: Counter<'group'>) {
          this.reset()
          for (const g of sources().groups()) this.inc({ group: g.name }, pick(g))
        },
      })
    for (const [name, help, pick] of GROUP_GAUGES) gauge(name, help, pick)
    for (const [name, help, pick] of GROUP_COUNTERS) counter(name, help, pick)
  }
}

/** Per-group gauges: name, help, and the value read off the group's status. */
const GROUP_GAUGES: ReadonlyArray<readonly [string, string, (g: GroupStatus) => number]> = [
  [
    'gatehouse_group_processes_up',
    'Ready daemon processes per group',
    (g) => g.processes.filter((p) => p.state === 'ready').length,
  ],
  [
    'gatehouse_group_processes_busy',
    'Ready daemon processes with at least one request in flight',
    (g) => g.processes.filter((p) => p.state === 'ready' && p.inflight > 0).length,
  ],
  [
    'gatehouse_group_processes_min',
    'Configured minimum processes (processes.min, or processes)',
    (g) => g.min ?? g.processes.length,
  ],
  [
    'gatehouse_group_processes_max',
    'Configured maximum processes (processes.max, or processes)',
    (g) => g.max ?? g.processes.length,
  ],
  [
    'gatehouse_group_requests_in_flight',
    'Requests in flight to the group',
    (g) => g.processes.reduce((n, p) => n + p.inflight, 0),
  ],
  ['gatehouse_group_queued_requests', 'Requests waiting for a free process', (g) => g.queued],
]

/** Totals the group keeps, exposed as counters (they only grow while the group lives). */
const GROUP_COUNTERS: ReadonlyArray<readonly [string, string, (g: GroupStatus) => number]> = [
  ['gatehouse_group_restarts_total', 'Daemon processes respawned after an unexpected exit', (g) => g.restarts],
  [
    'gatehouse_group_reloads_total',
    'Rolling reloads of the group (touch, restart command, configuration change)',
    (g) => g.reloads,
  ],
  [
    'gatehouse_group_recycled_total',
    'Processes replaced after maxRequests or inactivityTimeout',
    (g) => g.recycled ?? 0,
  ],
  [
    'gatehouse_group_spawned_total',
    'Processes started above the minimum because every process was busy',
    (g) => g.spawned ?? 0,
  ],
  [
    'gatehouse_group_retired_total',
    'Processes above the minimum stopped after idleTime without work',
    (g) => g.retired ?? 0,
  ],
  ['gatehouse_group_queue_waits_total', 'Requests that had to wait for a free process', (g) => g.queueWaits ?? 0],
  [
    'gatehouse_group_queue_wait_seconds_total',
    'Total time requests spent waiting for a free process',
    (g) => (g.queueWaitMs ?? 0) / 1000,
  ],
  [
    'gatehouse_group_busy_total',
    'Requests answered 503 because they waited longer than queueTimeout',
    (g) => g.busyRejections ?? 0,
  ],
]
