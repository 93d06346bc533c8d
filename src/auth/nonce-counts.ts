/**
 * Where the Digest nonce-count replay window lives, when not in NonceManager (useCount): a store
 * shared by several instances (src/state/nonce-counts.ts) implements it, so that an (nonce, nc)
 * accepted by one instance is refused by the others.
 */
export interface NonceCounts {
  /**
   * As NonceManager.useCount: true the first time (nonce, nc) is used within the window; false
   * for a replay. May throw (a GatehouseError with a 5xx status) when the check cannot be made.
   */
  use(nonce: string, nc: string | undefined): boolean | Promise<boolean>
  /**
   * True when these counts live with the throttle's store (the same primary or Redis), whose
   * `admit` then uses them in the same step as the admission; otherwise they are used apart.
   */
  readonly withThrottle?: boolean
}
