/**
 * A provider whose threads run in the primary (src/cluster/shared-providers.ts), as a front
 * worker sees it: the same contract, each call one request over the worker's channel. The
 * primary's thread pool keeps its own queue and timeouts and answers their errors (503 and the
 * rest) as it would in the worker; the channel's own timeout is only for a primary that does not
 * answer at all.
 */
import type { ProviderConfig } from '../config/types.js'
import type { ManagedProvider } from '../providers/registry.js'
import type { Channel } from './channel.js'
import { PROVIDER_METHODS } from '../providers/contract.js'
import type { HostedMethod, ProviderCall } from './shared-providers.js'

/** Beyond the call's own timeout and queue wait: the time the answer may take to come back. */
const CHANNEL_MARGIN_MS = 2000

export class RemoteProvider implements ManagedProvider {
  readonly name: string
  readonly #channel: Channel
  readonly #timeoutMs: number
  readonly #describe: () => Promise<Record<string, HostedMethod[]>>
  readonly #changed = new Set<(info: { thread: number }) => void>()

  /** `describe` is shared by the worker's remote providers: one request tells every provider's methods. */
  constructor(config: ProviderConfig, channel: Channel, describe: () => Promise<Record<string, HostedMethod[]>>) {
    this.name = config.name
    this.#channel = channel
    this.#timeoutMs = config.callTimeoutMs + config.queueTimeoutMs + CHANNEL_MARGIN_MS
    this.#describe = describe
    channel.on('providers.changed', (name) => {
      if (name === this.name) for (const l of this.#changed) l({ thread: -1 })
    })
  }

  async start(): Promise<void> {
    const methods = (await this.#describe())[this.name] ?? []
    for (const m of methods) {
      if (!PROVIDER_METHODS.includes(m)) continue
      ;(this as Record<string, unknown>)[m] = (...args: unknown[]) =>
        this.#channel.request(
          'providers.call',
          { provider: this.name, method: m, args } satisfies ProviderCall,
          this.#timeoutMs,
        )
    }
  }

  onChanged(listener: (info: { thread: number }) => void): () => void {
    this.#changed.add(listener)
    return () => this.#changed.delete(listener)
  }
}
