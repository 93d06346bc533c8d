/**
 * Where a login sends the user back to: only a path of this site that one of its routes serves.
 * Browsers read `//evil.example` and `/\evil.example` as another host, and some servers decode
 * `%2F%2F` into `//`; so the value must be origin-form (one leading `/`, visible ASCII, no `\`)
 * and pass the same path rule as any request (proxy/path-rule.ts: no encoded slashes, no empty
 * or dot segments, no control characters), and land on a configured route.
 */
import type { RouteTable, RoutePath } from '../proxy/path-rule.js'

const ORIGIN_PATH = /^\/(?![/\\])[\x21-\x7e]*$/

/** `value` when it is a safe path on a route of `table`, else undefined. */
export function safeReturnPath<R extends RoutePath>(
  value: string | undefined | null,
  table: RouteTable<R>,
  accept: (route: R) => boolean,
): string | undefined {
  if (typeof value !== 'string' || value.length > 2048) return undefined
  if (!ORIGIN_PATH.test(value) || value.includes('\\')) return undefined
  const decision = table.decide(value)
  if (!decision.ok || decision.route === undefined || !accept(decision.route)) return undefined
  return value
}
