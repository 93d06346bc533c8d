/**
 * The configuration's providers (htpasswd, SQLite, Django, modules), hosted once for every front
 * worker (runs in the primary): their threads are started here, not once per worker, so N
 * workers do not mean N copies of every provider's threads (each a V8 isolate of 10–12 MB). A
 * worker's RemoteProvider asks over its channel; the credential cache stays in the worker, so a
 * cache hit asks nothing. A provider that reports its data changed is announced to every worker,
 * which empties that provider's cache entries.
 */
import type { Logger } from 'pino'
import type { Config } from '../config/types.js'
import { errors } from '../errors.js'
import { ProviderRegistry, type ManagedProvider } from '../providers/registry.js'
import { PROVIDER_METHODS, type ProviderMethodName } from '../providers/contract.js'
import type { Channel } from './channel.js'

export type HostedMethod = ProviderMethodName

export interface ProviderCall {
  provider: string
  method: HostedMethod
  args: unknown[]
}

export class SharedProviders {
  readonly registry: ProviderRegistry
  readonly #channels = new Set<Channel>()
  readonly #providers: Map<string, ManagedProvider>

  constructor(config: Config, log: Logger) {
    // Only the configuration's own providers: daemon-group providers are reached by each worker directly.
    this.registry = new ProviderRegistry({ ...config, routes: config.routes }, log.child({ component: 'providers' }))
    this.#providers = new Map(
      Object.keys(config.providers).map((name) => [name, this.registry.chain([name])[0]!.provider as ManagedProvider]),
    )
    this.registry.onReload((name) => {
      for (const ch of this.#channels) ch.send('providers.changed', name)
    })
  }

  /** Starts every provider's first threads (a provider that does not load fails the start). */
  start(): Promise<void> {
    return this.registry.start()
  }

  attach(channel: Channel): () => void {
    this.#channels.add(channel)
    channel.handle('providers.describe', () =>
      Object.fromEntries(
        [...this.#providers].map(([name, p]) => [name, PROVIDER_METHODS.filter((m) => typeof p[m] === 'function')]),
      ),
    )
    channel.handle('providers.call', (body) => {
      const { provider, method, args } = body as ProviderCall
      const p = this.#providers.get(provider)
      const fn = p !== undefined && PROVIDER_METHODS.includes(method) ? p[method] : undefined
      if (typeof fn !== 'function') throw errors.GH_ERR_PROVIDER_UNAVAILABLE(provider, `no ${String(method)} here`)
      return (fn as (...a: unknown[]) => Promise<unknown>).apply(p, args)
    })
    return () => this.#channels.delete(channel)
  }

  close(): Promise<void> {
    this.#channels.clear()
    return this.registry.close()
  }
}
