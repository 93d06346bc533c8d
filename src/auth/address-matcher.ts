/**
 * What auth asks of the trusted proxies (proxy/trusted-proxies.ts builds the real one): whether
 * a peer's forwarding headers are believed. Auth knows no proxy, so it sees only this.
 */
export interface AddressMatcher {
  /** The `has` of a Set, so tests may still pass a Set. */
  has(address: string): boolean
}
