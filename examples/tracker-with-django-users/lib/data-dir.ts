/**
 * Where the demo keeps its files: DATA_DIR from the group's environment (gatehouse.yaml),
 * resolved against the process's cwd (the group's cwd). Secrets in it are created once,
 * race-free between the group's processes (exclusive create, then everyone reads).
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

export function dataDir(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.DATA_DIR
  if (dir === undefined || dir === '') throw new Error('DATA_DIR is not set: set it in the group env of gatehouse.yaml')
  return resolve(dir)
}

export function dataFile(name: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(dataDir(env), name)
}

/** Reads the secret in `file`, creating it (0600, 32 random bytes, base64url) when missing. */
export function ensureSecretFile(file: string): string {
  mkdirSync(resolve(file, '..'), { recursive: true, mode: 0o700 })
  try {
    writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { flag: 'wx', mode: 0o600 })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  // Another process may have created it a moment ago and be writing it: 43 characters or retry.
  for (let i = 0; i < 100; i++) {
    const secret = readFileSync(file, 'utf8').trim()
    if (secret.length >= 43) return secret
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5)
  }
  throw new Error(`secret file ${file} is shorter than 32 bytes`)
}
