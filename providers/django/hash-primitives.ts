/**
 * The raw key-derivation and digest functions Django's hashers are built from, behind one
 * interface so a test can count (and cost) every hash the provider runs without touching
 * timing. The default set is node:crypto plus hash-wasm (argon2), bcryptjs and apache-crypt
 * (traditional DES crypt): all pure JS/wasm or libuv thread-pool work, all asynchronous.
 */
import { createHash, pbkdf2, scrypt } from 'node:crypto'
import { createRequire } from 'node:module'
import { promisify } from 'node:util'
import bcrypt from 'bcryptjs'
import { hashWasm } from '../../src/passwords/formats.js'

export type Argon2Variant = 'argon2id' | 'argon2i' | 'argon2d'

export interface Argon2Cost {
  /** t: passes over memory. */
  iterations: number
  /** m: KiB of memory. */
  memorySize: number
  /** p: lanes. */
  parallelism: number
  hashLength: number
}

export interface ScryptCost {
  N: number
  r: number
  p: number
}

export interface HashPrimitives {
  pbkdf2(
    digest: 'sha256' | 'sha1',
    password: Buffer,
    salt: Buffer,
    iterations: number,
    keyLength: number,
  ): Promise<Buffer>
  scrypt(password: Buffer, salt: Buffer, keyLength: number, cost: ScryptCost): Promise<Buffer>
  argon2(variant: Argon2Variant, password: Buffer, salt: Buffer, cost: Argon2Cost): Promise<Buffer>
  /** bcrypt of `password` (a JS string, UTF-8 encoded by bcrypt) with the `$2b$NN$<22 chars>` setting; the full modular string. */
  bcrypt(password: string, setting: string): Promise<string>
  /** Traditional DES crypt(3) of the password bytes with a 2-character salt; 13 characters. */
  desCrypt(password: Buffer, salt: string): Promise<string>
  digest(algorithm: 'md5' | 'sha1' | 'sha256', data: Buffer): Promise<Buffer>
}

const pbkdf2Async = promisify(pbkdf2)
const scryptAsync = promisify(scrypt) as (
  password: Buffer,
  salt: Buffer,
  keylen: number,
  options: object,
) => Promise<Buffer>
const require = createRequire(import.meta.url)
const apacheCrypt = require('apache-crypt') as (password: string, salt: string) => string

export const nodeHashPrimitives: HashPrimitives = {
  pbkdf2: (digest, password, salt, iterations, keyLength) => pbkdf2Async(password, salt, iterations, keyLength, digest),

  // maxmem: scrypt needs about 128·N·r·p bytes; allow that (and a little more) explicitly.
  scrypt: (password, salt, keyLength, { N, r, p }) =>
    scryptAsync(password, salt, keyLength, { N, r, p, maxmem: 128 * N * r * p + 1024 * 1024 }),

  argon2: async (variant, password, salt, cost) => {
    const out = await (await hashWasm())[variant]({ password, salt, ...cost, outputType: 'binary' })
    return Buffer.from(out)
  },

  bcrypt: (password, setting) => bcrypt.hash(password, setting),

  // apache-crypt reads char codes: hand it the UTF-8 bytes as a latin1 string, which is what
  // crypt(3) sees when Python passes it the UTF-8 encoding of the password.
  desCrypt: async (password, salt) => apacheCrypt(password.toString('latin1'), salt),

  digest: async (algorithm, data) => createHash(algorithm).update(data).digest(),
}
