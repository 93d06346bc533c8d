/**
 * Notices that a group's app, provider or reloadOn file changed (mtime, size or inode), cheaply
 * enough to ask on every request: at most one round of stat() per `intervalMs`, and at once
 * after fs.watch flagged a change in one of the files' directories.
 */
import { statSync, watch, type FSWatcher } from 'node:fs'
import { basename, dirname } from 'node:path'

export class TouchWatcher {
  readonly #files: string[]
  readonly #intervalMs: number
  #seen = new Map<string, string>()
  #checkedAt = 0
  #flagged = false
  #watchers: FSWatcher[] = []

  constructor(files: string[], intervalMs: number) {
    this.#files = [...new Set(files)]
    this.#intervalMs = intervalMs
    this.capture()()
    const names = new Map<string, Set<string>>()
    for (const f of this.#files) {
      const dir = dirname(f)
      if (!names.has(dir)) names.set(dir, new Set())
      names.get(dir)?.add(basename(f))
    }
    for (const [dir, wanted] of names) {
      try {
        const w = watch(dir, { persistent: false }, (_event, name) => {
          if (name === null || wanted.has(String(name))) this.#flagged = true
        })
        w.on('error', () => {
          this.#flagged = true
        })
        this.#watchers.push(w)
      } catch {
        // No watch support here: the interval check alone still notices changes.
      }
    }
  }

  /** The first file that differs from what was last captured, or null. */
  changed(): string | null {
    const now = Date.now()
    if (!this.#flagged && now - this.#checkedAt < this.#intervalMs) return null
    this.#checkedAt = now
    this.#flagged = false
    for (const f of this.#files) {
      if (signature(f) !== this.#seen.get(f)) return f
    }
    return null
  }

  /** Reads the files' state now; calling the result records it as seen (after a reload). */
  capture(): () => void {
    const snapshot = new Map(this.#files.map((f) => [f, signature(f)]))
    return () => {
      this.#seen = snapshot
    }
  }

  close(): void {
    for (const w of this.#watchers) w.close()
    this.#watchers = []
  }
}

function signature(file: string): string {
  try {
    const st = statSync(file, { bigint: true })
    return `${st.mtimeNs}:${st.size}:${st.ino}`
  } catch {
    return 'missing'
  }
}
