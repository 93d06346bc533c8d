/**
 * Refuses header sets that the front and the target could read differently, the classic way to
 * route past an auth check (the path's syntax is the shared path rule's, path-rule.ts). Two
 * Authorization headers are ambiguous (Node keeps the first, other servers the last), so nginx
 * answers 400 and so do we. Returns a short reason, or undefined when the headers are fine.
 */
export function checkAuthorizationHeaders(rawHeaders: readonly string[]): string | undefined {
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
