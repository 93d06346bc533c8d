/**
 * The admin unix socket's file-system protection: its directory must be ours and closed to
 * group and others (0700; created so when missing), the socket itself is made 0600, and a
 * stale socket left by a crashed gateway is removed (one that still answers is not).
 */
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs'
import { connect } from 'node:net'
import { dirname } from 'node:path'
import { errors } from '../errors.js'

export async function prepareSocketPath(path: string): Promise<void> {
  const dir = dirname(path)
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
  } catch (err) {
    throw errors.GH_ERR_ADMIN_LISTEN(`unix:${path}`, `cannot create ${dir}: ${(err as Error).message}`)
  }
  const st = lstatSync(dir)
  if (!st.isDirectory()) throw errors.GH_ERR_ADMIN_LISTEN(`unix:${path}`, `${dir} is not a directory`)
  if ((st.mode & 0o077) !== 0)
    throw errors.GH_ERR_ADMIN_LISTEN(
      `unix:${path}`,
      `${dir} must not be accessible by group or others (mode ${(st.mode & 0o777).toString(8)}; chmod 700 it)`,
    )
  if (process.getuid !== undefined && st.uid !== process.getuid())
    throw errors.GH_ERR_ADMIN_LISTEN(`unix:${path}`, `${dir} is not owned by uid ${process.getuid()}`)
  let existing
  try {
    existing = lstatSync(path)
  } catch {
    return
  }
  if (!existing.isSocket()) throw errors.GH_ERR_ADMIN_LISTEN(`unix:${path}`, 'the path exists and is not a socket')
  if (await answers(path)) throw errors.GH_ERR_ADMIN_LISTEN(`unix:${path}`, 'another process is listening on it')
  unlinkSync(path)
}

export function restrictSocket(path: string): void {
  chmodSync(path, 0o600)
}

export function removeAdminSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path)
  } catch {
    // already gone
  }
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path)
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}
