/**
 * Refuses request targets and header sets that the front and the target could read
 * differently — the classic way to route past an auth check. A dot segment such as
 * `/public/../staff` is matched here as /public (no auth) but normalized by many upstreams to
 * /staff; encoded slashes and backslashes play the same trick after decoding. Two Authorization
 * headers are ambiguous (Node keeps the first, other servers the last), so nginx answers 400
 * and so do we. Repeated slashes are refused for the same reason as dot segments. Returns a short reason, or undefined when the request is fine.
 */

// A dot segment, raw or percent-encoded ("%2e" is "."), between slashes or at the end.
const DOT_SEGMENT = /(^|\/)(\.|%2e){1,2}(\/|$)/i
// Encoded "/" or "\", a raw "\", or an encoded NUL.
const AMBIGUOUS = /%2f|%5c|\\|%00/i

export function checkRequestTarget(url: string, rawHeaders: readonly string[]): string | undefined {
  const q = url.indexOf('?')
  const path = q === -1 ? url : url.slice(0, q)
  if (path[0] !== '/') return 'request target must be a path'
  if (DOT_SEGMENT.test(path)) return 'dot segments are not allowed in the path'
  if (AMBIGUOUS.test(path)) return 'encoded slashes, backslashes and NUL are not allowed in the path'
  // "//staff" would be routed by the catch-all route but merged into "/staff" by many upstreams.
  if (path.includes('//')) return 'empty path segments (//) are not allowed'
  let auth = 0
  let proxyAuth = 0
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!
    if (name.length === 13 && name.toLowerCase() === 'authorization') auth++
    else if (name.length === 19 && name.toLowerCase() === 'proxy-authorization') proxyAuth++
  }
  if (auth > 1) return 'more than one Authorization header'
  if (proxyAuth > 1) return 'more than one Proxy-Authorization header'
  return undefined
}
