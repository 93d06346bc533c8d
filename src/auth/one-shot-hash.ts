/**
 * One-shot hashes for the per-request paths (cache keys, Digest responses). Node's
 * `crypto.hash` (Node ≥ 20.12) hashes in one call without a Hash object: a fifth of
 * createHash().update().digest()'s cost on short inputs, which a Digest request pays four times.
 * Older Node 20 releases fall back to createHash.
 */
import * as crypto from 'node:crypto'

type Encoding = 'hex' | 'base64url'
type OneShot = (algorithm: string, data: string | Buffer, encoding: Encoding) => string

const oneShot = (crypto as unknown as { hash?: OneShot }).hash
const fallback: OneShot = (algorithm, data, encoding) => crypto.createHash(algorithm).update(data).digest(encoding)

/** H(data) in `encoding`; a string is hashed as UTF-8. `algorithm` is a Node hash name. */
export const digestOf: OneShot = typeof oneShot === 'function' ? oneShot : fallback

export function sha256(data: string | Buffer, encoding: Encoding): string {
  return digestOf('sha256', data, encoding)
}
