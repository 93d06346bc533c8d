/**
 * Keeps native addons that provider threads load mapped for the life of the process.
 *
 * When only a worker thread has loaded an addon, Node unloads its shared object as the thread
 * ends, and objects of that addon still alive at the thread's final garbage collection call
 * into unmapped memory: the process dies of SIGSEGV while it shuts down
 * (WiseLibs/better-sqlite3#1476, not fixed in the 12.x line Node 20 needs). Loading the addon
 * once in the main thread holds a reference, so a thread's exit never unmaps it.
 */
import { createRequire } from 'node:module'

const ADDONS = ['better-sqlite3'] as const
let pinned = false

/** Loads the known native addons in this (main) thread, once; a missing one is skipped. */
export function pinNativeAddons(): void {
  if (pinned) return
  pinned = true
  const require = createRequire(import.meta.url)
  for (const name of ADDONS) {
    try {
      // The binding loads lazily, on the first Database: open one in memory to map it now.
      const Database = require(name) as new (file: string) => { close(): void }
      new Database(':memory:').close()
    } catch {
      // Not installed: no provider thread can load it either.
    }
  }
}
