/**
 * Refuses request targets and header sets that the front and the target could read
 * differently — the classic way to route past an auth check. The path's syntax is the shared
 * path rule's (path-rule.ts: fragments, dot segments, encoded slashes, backslashes, `//`); here
 * the header set is checked too. Two Authorization headers are ambiguous (Node keeps the first,
 * other servers the last), so nginx answers 400 and so do we. Returns a short reason, or
 * undefined when the request is fine.
 */
import { readTargetPath } from './path-rule.js'

export function checkRequestTarget(url: string, rawHeaders: readonly string[]): string | undefined {
  const read = readTargetPath(url)
  return read.ok ? checkAuthorizationHeaders(rawHeaders) : read.reason
}

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
