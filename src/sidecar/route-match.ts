/**
 * Which route an original URI belongs to: the longest route `path` that is a prefix of its
 * path at a `/` boundary (the front's rule). The proxy routes on its own normalized view of the
 * path, so the match is made on the same view: percent-decoded and with repeated slashes merged
 * (nginx's merge_slashes). Otherwise `/st%61ff` or `//staff` would match a public `/` route here
 * while nginx serves `/staff`. Dot segments and encoded slashes never get here (checkRequestTarget).
 */
import type { RouteConfig } from '../config-types.js'

/** The path the proxy routes on, or undefined when it cannot be decoded (malformed %-escapes, bad UTF-8). */
export function routingPath(uri: string): string | undefined {
  const q = uri.indexOf('?')
  const raw = q === -1 ? uri : uri.slice(0, q)
  let decoded: string
  try {
    decoded = decodeURIComponent(raw)
  } catch {
    return undefined
  }
  return decoded.replace(/\/{2,}/g, '/')
}

export function matchRoute<R extends Pick<RouteConfig, 'path'>>(routes: readonly R[], path: string): R | undefined {
  let best: R | undefined
  for (const r of routes) {
    const p = r.path
    const hit = p === '/' || path === p || path.startsWith(p.endsWith('/') ? p : `${p}/`)
    if (hit && (best === undefined || p.length > best.path.length)) best = r
  }
  return best
}
