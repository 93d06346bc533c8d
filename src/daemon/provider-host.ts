/**
 * Inside a worker: loads the group's provider module and answers CALL frames. The module's
 * default export is a Provider object or an async factory `(options, env) => Provider`
 * (loadProvider, the same loader worker threads use). It reports which contract methods the
 * provider has, so the front exposes exactly those.
 *
 * Answers are checked before they cross the socket (a value of the wrong type, or one JSON
 * cannot carry, goes back as GH_ERR_PROVIDER_BAD_RESULT naming its type only). A throw goes
 * back as a code and the error's class name: the provider's own message may quote the
 * password it was given, so it is logged here, with the password cut out, and never sent.
 */
import type { Provider, ProviderEnv } from '../providers/contract.js'
import { loadProvider, providerMethods } from '../providers/load-module.js'
import { RESULT_RULES, describeValue } from '../providers/result-rules.js'
import { PROVIDER_METHODS, type CallResult, type ProviderMethodName } from '../ipc/protocol.js'

const REDACTED = '[redacted]'

export class ProviderHost {
  /** The contract methods the loaded provider implements, in contract order. */
  readonly methods: ProviderMethodName[]
  readonly #provider: Provider
  readonly #env: ProviderEnv

  private constructor(provider: Provider, env: ProviderEnv) {
    this.#provider = provider
    this.#env = env
    this.methods = providerMethods(provider)
  }

  /** Loads `file` (an absolute path) with `options`; throws GH_ERR_PROVIDER_LOAD naming it. */
  static async load(file: string, env: ProviderEnv, options: Record<string, unknown> = {}): Promise<ProviderHost> {
    return new ProviderHost(await loadProvider(file, options, env), env)
  }

  async call(method: string, args: unknown[]): Promise<CallResult> {
    if (!(PROVIDER_METHODS as readonly string[]).includes(method)) {
      return {
        ok: false,
        code: 'GH_ERR_PROVIDER_FAILED',
        message: `unknown provider method ${JSON.stringify(String(method).slice(0, 40))}`,
      }
    }
    const name = method as ProviderMethodName
    const fn = this.#provider[name] as ((...a: unknown[]) => Promise<unknown>) | undefined
    if (typeof fn !== 'function') {
      return { ok: false, code: 'GH_ERR_PROVIDER_FAILED', message: `provider ${this.#env.name} has no ${name}` }
    }
    let value: unknown
    try {
      value = await fn.apply(this.#provider, args)
    } catch (err) {
      this.#logFailure(name, args, err)
      const kind = err instanceof Error ? err.name : typeof err
      return { ok: false, code: 'GH_ERR_PROVIDER_FAILED', message: `${name} threw ${kind}` }
    }
    const rule = RESULT_RULES[name]
    if (!rule.valid(value, args)) {
      this.#env.log.error(`provider ${name} returned ${describeValue(value)}, expected ${rule.expected}`)
      return { ok: false, code: 'GH_ERR_PROVIDER_BAD_RESULT', message: describeValue(value) }
    }
    return { ok: true, value: name === 'getRealmHash' && typeof value === 'string' ? value.toLowerCase() : value }
  }

  async close(): Promise<void> {
    await this.#provider.close?.()
  }

  #logFailure(method: ProviderMethodName, args: unknown[], err: unknown): void {
    const password = method === 'checkPassword' && typeof args[2] === 'string' ? args[2] : ''
    const text = err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err)
    this.#env.log.error(`provider ${method} threw`, {
      error: password === '' ? text : text.split(password).join(REDACTED),
    })
  }
}
