/**
 * One `trustedProxies` entry: an IPv4 or IPv6 address, or a CIDR range, as nginx's
 * `set_real_ip_from` takes them. parseConfig checks the entries with it, and the proxy's
 * TrustedProxies (proxy/trusted-proxies.ts) with the same words.
 */
import { isIP } from 'node:net'

/** Why `entry` is not an address or a CIDR range, or undefined when it is one. */
export function trustedProxyProblem(entry: string): string | undefined {
  const slash = entry.indexOf('/')
  const address = slash === -1 ? entry : entry.slice(0, slash)
  const family = isIP(address)
  if (family === 0) return `expected an IP address or a CIDR range (10.0.0.0/8, fd00::/8), got ${JSON.stringify(entry)}`
  if (slash === -1) return undefined
  const bits = entry.slice(slash + 1)
  const max = family === 4 ? 32 : 128
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max)
    return `the prefix length of ${JSON.stringify(entry)} must be 0 to ${max}`
  return undefined
}
