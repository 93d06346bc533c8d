/**
 * Times a provider's contract calls without changing what it is: a Proxy that forwards every
 * property (so methods that appear or vanish, like a daemon group's after a reload, stay
 * dynamic) and wraps the five contract methods in a timer. Only the provider name, the method
 * and ok/error reach the observer: never an argument.
 */
import type { Provider } from '../providers/contract.js'

export type CallObserver = (provider: string, method: string, outcome: 'ok' | 'error', seconds: number) => void

const TIMED = new Set<PropertyKey>(['checkPassword', 'getRealmHash', 'groupsForUser', 'allowAccess', 'findUserByHash'])

export function instrumentProvider<P extends Provider>(name: string, provider: P, observe: CallObserver): P {
  const wrapped = new Map<PropertyKey, { original: unknown; timed: unknown }>()
  return new Proxy(provider, {
    get(target, prop) {
      // The target as receiver: class getters and #private fields need the real object.
      const value: unknown = Reflect.get(target, prop, target)
      if (typeof value !== 'function') return value
      const cached = wrapped.get(prop)
      if (cached !== undefined && cached.original === value) return cached.timed
      const fn = value as (...args: unknown[]) => unknown
      const timed = TIMED.has(prop) ? timer(name, String(prop), fn.bind(target), observe) : fn.bind(target)
      wrapped.set(prop, { original: value, timed })
      return timed
    },
  })
}

function timer(
  name: string,
  method: string,
  fn: (...args: unknown[]) => unknown,
  observe: CallObserver,
): (...args: unknown[]) => Promise<unknown> {
  return async (...args: unknown[]) => {
    const start = process.hrtime.bigint()
    const seconds = () => Number(process.hrtime.bigint() - start) / 1e9
    try {
      const result = await fn(...args)
      observe(name, method, 'ok', seconds())
      return result
    } catch (err) {
      observe(name, method, 'error', seconds())
      throw err
    }
  }
}
