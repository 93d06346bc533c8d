/**
 * `Cache-Control: no-store` on a response whatever its target says: a page behind a form route
 * must not stay in the browser's cache, or Back after logout would show it. Targets write the
 * head through res.writeHead (an upstream's headers win over the reply's own there), so the
 * header is imposed at that point, replacing any Cache-Control, Expires or Pragma of theirs.
 * The headers handed to writeHead are about to be written, so they are edited in place: this
 * runs on every request of a form route.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http'

const CACHE_HEADERS = new Set(['cache-control', 'expires', 'pragma'])

export function forceNoStore(res: ServerResponse): void {
  const writeHead = res.writeHead
  res.writeHead = function (this: ServerResponse, status: number, ...rest: unknown[]) {
    const at = typeof rest[0] === 'string' ? 1 : 0
    const headers = rest[at]
    if (Array.isArray(headers)) rest[at] = withoutCacheHeaders(headers)
    else if (headers !== undefined && headers !== null && typeof headers === 'object')
      dropCacheKeys(headers as OutgoingHttpHeaders)
    if (this.hasHeader('expires')) this.removeHeader('expires')
    if (this.hasHeader('pragma')) this.removeHeader('pragma')
    this.setHeader('cache-control', 'no-store')
    return (writeHead as (...a: unknown[]) => ServerResponse).call(this, status, ...rest)
  } as ServerResponse['writeHead']
}

function dropCacheKeys(headers: OutgoingHttpHeaders): void {
  for (const k in headers) {
    // Only names of these lengths can match; most keys are skipped without lower-casing.
    if ((k.length === 13 || k.length === 7 || k.length === 6) && CACHE_HEADERS.has(k.toLowerCase())) delete headers[k]
  }
}

/** writeHead's raw form: [name, value, name, value, …] or [[name, value], …]. */
function withoutCacheHeaders(headers: unknown[]): unknown[] {
  if (headers.length > 0 && Array.isArray(headers[0]))
    return headers.filter((pair) => !CACHE_HEADERS.has(String((pair as unknown[])[0]).toLowerCase()))
  const out: unknown[] = []
  for (let i = 0; i + 1 < headers.length; i += 2) {
    if (!CACHE_HEADERS.has(String(headers[i]).toLowerCase())) out.push(headers[i], headers[i + 1])
  }
  return out
}
