/**
 * `trustedProxies`: the peers whose forwarding headers (X-Forwarded-For, X-Original-URI ...)
 * are believed. Entries are addresses or CIDR ranges, IPv4 or IPv6, as nginx's
 * `set_real_ip_from` takes them; an IPv4 entry also matches its IPv4-mapped IPv6 form
 * (`::ffff:127.0.0.1`), which is how a peer appears when the front listens on `::`.
 */
import { BlockList, isIP } from 'node:net'
import type { AddressMatcher } from '../auth/address-matcher.js'
import { trustedProxyProblem } from '../config/trusted-proxy-entry.js'

// Both live below the proxy (auth and config must not import it); re-exported for its callers.
export type { AddressMatcher }
export { trustedProxyProblem }

/** Addresses remembered with their answer; past this many the memo starts over. */
const MEMO_MAX = 4096

export class TrustedProxies implements AddressMatcher {
  readonly #list = new BlockList()
  readonly #empty: boolean
  /** BlockList.check costs ~1.6 µs (a native SocketAddress per call) and runs up to three times a request. */
  readonly #memo = new Map<string, boolean>()

  /** Throws a TypeError naming the entry when one is neither an address nor a CIDR range. */
  constructor(entries: readonly string[]) {
    this.#empty = entries.length === 0
    for (const entry of entries) {
      const problem = trustedProxyProblem(entry)
      if (problem !== undefined) throw new TypeError(`trustedProxies: ${problem}`)
      const [address, bits] = entry.split('/') as [string, string | undefined]
      const type = isIP(address) === 4 ? 'ipv4' : 'ipv6'
      if (bits === undefined) this.#list.addAddress(address, type)
      else this.#list.addSubnet(address, Number(bits), type)
    }
  }

  has(address: string): boolean {
    if (this.#empty) return false
    const known = this.#memo.get(address)
    if (known !== undefined) return known
    const family = isIP(address)
    const trusted = family !== 0 && this.#list.check(address, family === 4 ? 'ipv4' : 'ipv6')
    if (this.#memo.size >= MEMO_MAX) this.#memo.clear()
    this.#memo.set(address, trusted)
    return trusted
  }
}
