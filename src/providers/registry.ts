/**
 * Every provider the configuration names, by name: built-ins and provider modules run in
 * worker threads (ThreadProvider), daemon-group providers are registered by the supervisor.
 * Checks at start what the configuration cannot know before the modules load: a provider a
 * Digest route uses must have getRealmHash.
 */
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { Config, ProviderConfig } from '../config/types.js'
import { errors } from '../errors.js'
import type { NamedProvider } from '../auth/provider-chain.js'
import type { Provider, ProviderLog } from './contract.js'
import { ThreadProvider } from './thread-pool.js'

export interface ManagedProvider extends Provider {
  start?(): Promise<void>
  close?(): Promise<void> | void
  /** Called before a route consults the credential cache: a daemon group notices touched files (and reloads). */
  refresh?(): Promise<void>
}

export interface RegistryOptions {
  /**
   * Where the configuration's providers run when not in this process's threads (a front worker's
   * providers run in the primary): the provider standing for `p` here.
   */
  hosted?(p: ProviderConfig): ManagedProvider & { onChanged(listener: (info: { thread: number }) => void): unknown }
}

export class ProviderRegistry {
  readonly #entries = new Map<string, NamedProvider & { provider: ManagedProvider }>()
  readonly #events = new EventEmitter()
  readonly #config: Config
  readonly #log: Logger
  #wrap: ((name: string, provider: ManagedProvider) => ManagedProvider) | undefined
  readonly #wrapped = new WeakMap<ManagedProvider, NamedProvider>()

  constructor(config: Config, log: Logger, opts: RegistryOptions = {}) {
    this.#config = config
    this.#log = log
    for (const p of Object.values(config.providers)) {
      const plog = log.child({ provider: p.name })
      const provider =
        opts.hosted?.(p) ??
        new ThreadProvider({
          name: p.name,
          specifier: p.module,
          options: p.options,
          baseDir: config.baseDir,
          threads: p.threads,
          threadsAtStart: p.threadsAtStart,
          callTimeoutMs: p.callTimeoutMs,
          concurrency: p.concurrency,
          queueTimeoutMs: p.queueTimeoutMs,
          nice: p.nice,
          shareWhenBusy: p.shareWhenBusy,
          log: providerLog(plog),
        })
      // A built-in re-read its file (or a module said so): cached successes may now be wrong.
      provider.onChanged(({ thread }) => this.dataChanged(p.name, { thread }))
      this.#entries.set(p.name, { name: p.name, provider })
    }
  }

  /** Adds a provider that lives elsewhere (a daemon group's provider module). */
  register(name: string, provider: ManagedProvider): void {
    this.#entries.set(name, { name, provider })
  }

  has(name: string): boolean {
    return this.#entries.has(name)
  }

  chain(names: readonly string[]): NamedProvider[] {
    return names.map((n) => {
      const e = this.#entries.get(n)
      if (!e) throw errors.GH_ERR_CONFIG_INVALID(`provider ${n} is not defined`)
      return this.#instrumented(e)
    })
  }

  /** Wraps the providers chain() hands out from now on (the metrics time their calls). */
  instrument(wrap: (name: string, provider: ManagedProvider) => ManagedProvider): void {
    this.#wrap = wrap
  }

  #instrumented(e: NamedProvider & { provider: ManagedProvider }): NamedProvider {
    if (this.#wrap === undefined) return e
    let np = this.#wrapped.get(e.provider)
    if (np === undefined) {
      np = { name: e.name, provider: this.#wrap(e.name, e.provider) }
      this.#wrapped.set(e.provider, np)
    }
    return np
  }

  async start(): Promise<void> {
    await Promise.all([...this.#entries.values()].map((e) => e.provider.start?.()))
    for (const [i, route] of this.#config.routes.entries()) {
      if (!route.auth?.scheme.includes('digest')) continue
      for (const name of route.auth.provider) {
        const e = this.#entries.get(name)
        if (e && typeof e.provider.getRealmHash !== 'function') {
          throw errors.GH_ERR_CONFIG_INVALID(
            `routes[${i}].auth.scheme: ${errors.GH_ERR_PROVIDER_NO_DIGEST(name).message}`,
          )
        }
      }
    }
    this.#log.debug({ providers: [...this.#entries.keys()] }, 'providers ready')
  }

  /** Lets the chain's providers that can go stale reload first (their reload empties their cache entries). */
  /**
   * Lets providers that can go stale (daemon-group providers) notice a reload before they are
   * asked. Undefined when no provider of the chain needs it, so the request path of a chain of
   * built-ins does not pay an await per request.
   */
  refresh(chain: readonly NamedProvider[]): Promise<void> | undefined {
    const stale = chain.filter((np) => typeof (np.provider as ManagedProvider).refresh === 'function')
    if (stale.length === 0) return undefined
    return (async () => {
      for (const np of stale) await (np.provider as ManagedProvider).refresh!()
    })()
  }

  /** A provider's answers may have changed (its group reloaded, its data changed): listeners empty caches. */
  notifyReload(name: string): void {
    this.#events.emit('reload', name)
  }

  /** A provider said its data changed (env.changed(), from a thread or a daemon group): logged, then notifyReload. */
  dataChanged(name: string, fields: Record<string, unknown> = {}): void {
    this.#log.info({ provider: name, ...fields }, 'provider data changed: cache entries dropped')
    this.notifyReload(name)
  }

  /** Milliseconds of rest each threaded provider's threads were given so far (shareWhenBusy). */
  rests(): Array<{ provider: string; restedMs: number }> {
    const out: Array<{ provider: string; restedMs: number }> = []
    for (const e of this.#entries.values())
      if (e.provider instanceof ThreadProvider) out.push({ provider: e.name, restedMs: e.provider.restedMs })
    return out
  }

  onReload(listener: (name: string) => void): void {
    this.#events.on('reload', listener)
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#entries.values()].map((e) => e.provider.close?.()))
  }
}

export function providerLog(log: Logger): ProviderLog {
  return {
    info: (msg, fields) => log.info(fields ?? {}, msg),
    warn: (msg, fields) => log.warn(fields ?? {}, msg),
    error: (msg, fields) => log.error(fields ?? {}, msg),
  }
}
