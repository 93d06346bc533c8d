/**
 * Session ids and what is derived from them. The id (256 random bits) lives only in the
 * client's cookie; the store keys records by its SHA-256, and the credentials kept for
 * re-checking are sealed (AES-256-GCM) under a key derived from the id. A store dump thus
 * yields neither a cookie that works nor a password.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto'

/** 32 random bytes, base64url (43 characters). */
export function newSessionId(): string {
  return randomBytes(32).toString('base64url')
}

/** The shape newSessionId makes; anything else is not looked up at all. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/

export function isSessionId(value: string): boolean {
  return SESSION_ID.test(value)
}

export function storeKey(id: string): string {
  return createHash('sha256').update('gatehouse session\0').update(id).digest('base64url')
}

function sealingKey(id: string): Buffer {
  return createHmac('sha256', id).update('gatehouse session credential').digest()
}

/** Seals `user` and `password` for the record of session `id`; the store key is authenticated with them. */
export function sealCredential(id: string, user: string, password: string): string {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', sealingKey(id), iv)
  cipher.setAAD(Buffer.from(storeKey(id)))
  const body = Buffer.concat([cipher.update(JSON.stringify([user, password]), 'utf8'), cipher.final()])
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')
}

/** The sealed credentials, or undefined when they were not sealed for this id (or were altered). */
export function openCredential(id: string, sealed: string): { user: string; password: string } | undefined {
  try {
    const buf = Buffer.from(sealed, 'base64url')
    const decipher = createDecipheriv('aes-256-gcm', sealingKey(id), buf.subarray(0, 12))
    decipher.setAAD(Buffer.from(storeKey(id)))
    decipher.setAuthTag(buf.subarray(12, 28))
    const text = Buffer.concat([decipher.update(buf.subarray(28)), decipher.final()]).toString('utf8')
    const [user, password] = JSON.parse(text) as [unknown, unknown]
    return typeof user === 'string' && typeof password === 'string' ? { user, password } : undefined
  } catch {
    return undefined
  }
}
