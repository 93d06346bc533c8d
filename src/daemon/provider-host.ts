/**
 * Inside a worker: loads the group's provider module and answers CALL frames. The module's
 * default export is a Provider object or an async factory `(options, env) => Provider`.
 * Failures go back as a code and the error's class name only: a provider's message may quote
 * the credentials it was given, so it is logged here (in the daemon) and never sent.
 */
import { pathToFileURL } from 'node:url'
import type { Provider, ProviderEnv, ProviderModuleExport } from '../providers/contract.js'
import type { CallResult } from '../ipc/protocol.js'

const METHODS = ['checkPassword', 'getRealmHash', 'groupsForUser', 'allowAccess'] as const
type Method = (typeof METHODS)[number]

export class ProviderHost {
  readonly #provider: Provider
  readonly #env: ProviderEnv

  private constructor(provider: Provider, env: ProviderEnv) {
    this.#provider = provider
    this.#env = env
  }

  static async load(file: string, env: ProviderEnv, options: Record<string, unknown> = {}): Promise<ProviderHost> {
    const mod = (await import(pathToFileURL(file).href)) as { default?: ProviderModuleExport }
    const exported = mod.default
    let provider: unknown = exported
    if (typeof exported === 'function') provider = await exported(options, env)
    if (provider === null || typeof provider !== 'object') {
      throw new TypeError(`provider module ${file}: default export must be a Provider object or a factory returning one`)
    }
    if (!METHODS.some((m) => typeof (provider as Record<string, unknown>)[m] === 'function')) {
      throw new TypeError(`provider module ${file}: implements none of ${METHODS.join(', ')}`)
    }
    return new ProviderHost(provider as Provider, env)
  }

  async call(method: string, args: unknown[]): Promise<CallResult> {
    if (!(METHODS as readonly string[]).includes(method)) {
      return { ok: false, code: 'GH_ERR_PROVIDER_BAD_RESULT', message: `unknown provider method ${JSON.stringify(method).slice(0, 40)}` }
    }
    const fn = this.#provider[method as Method] as ((...a: unknown[]) => Promise<unknown>) | undefined
    if (typeof fn !== 'function') {
      return { ok: false, code: 'GH_ERR_PROVIDER_UNAVAILABLE', message: `provider ${this.#env.name} has no ${method}` }
    }
    try {
      const value = await fn.apply(this.#provider, args)
      return { ok: true, value: value === undefined ? null : value }
    } catch (err) {
      const name = err instanceof Error ? err.name : typeof err
      this.#env.log.error(`provider ${method} failed`, { error: err instanceof Error ? err.message : String(err) })
      return { ok: false, code: 'GH_ERR_PROVIDER_FAILED', message: `${method} threw ${name}` }
    }
  }

  async close(): Promise<void> {
    await this.#provider.close?.()
  }
}
