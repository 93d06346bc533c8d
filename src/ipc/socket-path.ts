/**
 * The private runtime directory (0700) that holds the daemons' sockets, and short socket paths
 * within it: sun_path is ~104-108 bytes, so names are `<group index>-<process seq>.s`.
 */
import { lstatSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { errors } from '../errors.js'

/** Portable limit: macOS allows 104 bytes including the NUL, Linux 108. */
export const MAX_SOCKET_PATH_BYTES = 103

export interface RuntimeDir {
  path: string
  /** Created by us (and removed on close). */
  owned: boolean
}

/**
 * Uses `given` if set (created 0700 if missing; an existing one must be a real directory owned
 * by us with no group/other access), else a fresh mkdtemp under os.tmpdir() (or /tmp if that
 * path is too long for sockets).
 */
export function createRuntimeDir(given?: string): RuntimeDir {
  if (given !== undefined) {
    let owned = false
    try {
      mkdirSync(given, { mode: 0o700 })
      owned = true
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
        throw errors.GH_ERR_OPT_INVALID(`runtimeDir ${given}: ${(err as Error).message}`)
    }
    const st = lstatSync(given)
    if (!st.isDirectory()) throw errors.GH_ERR_OPT_INVALID(`runtimeDir ${given} is not a directory`)
    if ((st.mode & 0o077) !== 0)
      throw errors.GH_ERR_OPT_INVALID(
        `runtimeDir ${given} must not be accessible by group or others (mode ${(st.mode & 0o777).toString(8)})`,
      )
    if (process.getuid !== undefined && st.uid !== process.getuid())
      throw errors.GH_ERR_OPT_INVALID(`runtimeDir ${given} is not owned by uid ${process.getuid()}`)
    return { path: given, owned }
  }
  const base = Buffer.byteLength(tmpdir()) < 60 ? tmpdir() : '/tmp'
  return { path: mkdtempSync(join(base, 'gh-')), owned: true }
}

export function socketPath(dir: string, groupIndex: number, seq: number): string {
  const path = join(dir, `${groupIndex.toString(36)}-${seq.toString(36)}.s`)
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    throw errors.GH_ERR_OPT_INVALID(
      `socket path ${path} is longer than ${MAX_SOCKET_PATH_BYTES} bytes; use a shorter runtimeDir`,
    )
  }
  return path
}

export function removeSocket(path: string): void {
  rmSync(path, { force: true })
}

export function removeRuntimeDir(dir: RuntimeDir): void {
  if (dir.owned) rmSync(dir.path, { recursive: true, force: true })
}
