/**
 * A daemon group's provider module, seen from the front: each method is a call over the
 * group's IPC channel, answered inside one of the group's processes (as the group's user,
 * with the group's modules). A group that is down or slow fails the call with a coded 503;
 * the provider chain turns that into a 5xx, never a pass.
 */
import type { GroupHandle } from '../daemon/group.js'
import type { AuthContext, DigestAlgorithm, Provider } from './contract.js'

export interface GroupProviderOptions {
  callTimeoutMs: number
}

export class GroupProvider implements Provider {
  readonly name: string
  readonly #handle: GroupHandle
  readonly #timeout: number

  constructor(name: string, handle: GroupHandle, opts: GroupProviderOptions) {
    this.name = name
    this.#handle = handle
    this.#timeout = opts.callTimeoutMs
  }

  checkPassword(ctx: AuthContext, user: string, password: string): Promise<boolean | string | null> {
    return this.#handle.call('checkPassword', [ctx, user, password], this.#timeout) as Promise<boolean | string | null>
  }

  getRealmHash(ctx: AuthContext, user: string, realm: string, algorithm: DigestAlgorithm): Promise<string | null> {
    return this.#handle.call('getRealmHash', [ctx, user, realm, algorithm], this.#timeout) as Promise<string | null>
  }

  groupsForUser(ctx: AuthContext, user: string): Promise<string[]> {
    return this.#handle.call('groupsForUser', [ctx, user], this.#timeout) as Promise<string[]>
  }
}
