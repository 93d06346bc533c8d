/**
 * Password hashes of the accounts app: node:crypto scrypt (RFC 7914), asynchronous so a check
 * runs on libuv's thread pool, never on the event loop. Stored as
 * `scrypt$<log2 N>$<r>$<p>$<salt b64url>$<key b64url>`; verification recomputes with the
 * stored parameters and compares in constant time.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'

const LOG2_N = 14
const R = 8
const P = 1
const KEY_LENGTH = 32
const SALT_BYTES = 16
const FORMAT = /^scrypt\$([0-9]{1,2})\$([0-9]{1,2})\$([0-9]{1,2})\$([A-Za-z0-9_-]{16,})\$([A-Za-z0-9_-]{43})$/

function derive(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_LENGTH, { ...options, maxmem: 256 * 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    )
  })
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES)
  const key = await derive(password, salt, { N: 2 ** LOG2_N, r: R, p: P })
  return ['scrypt', LOG2_N, R, P, salt.toString('base64url'), key.toString('base64url')].join('$')
}

/** True when `password` matches `stored`. A hash this module cannot read is a technical failure: it throws. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = FORMAT.exec(stored)
  if (m === null) throw new Error('stored password hash is not in the scrypt format')
  const [, logN, r, p, salt, key] = m as unknown as [string, string, string, string, string, string]
  if (Number(logN) < 10 || Number(logN) > 20) throw new Error('stored password hash has an out-of-range cost')
  const wanted = Buffer.from(key, 'base64url')
  const got = await derive(password, Buffer.from(salt, 'base64url'), {
    N: 2 ** Number(logN),
    r: Number(r),
    p: Number(p),
  })
  return got.length === wanted.length && timingSafeEqual(got, wanted)
}
