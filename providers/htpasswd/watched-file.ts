/**
 * A text file parsed into a value and kept current: a change on disk is re-read and swapped in
 * whole; a file that stops parsing (or cannot be read) leaves the previous value in force and
 * logs a warning. Shared by the htpasswd and htdigest providers.
 */
import { readFile, stat } from 'node:fs/promises'
import { unwatchFile, watchFile, type Stats } from 'node:fs'
import type { ProviderLog } from '../../src/providers/contract.js'

/** Thrown by parsers: carries only a line number, never the line (it may hold a hash). */
export class FileFormatError extends Error {
  readonly line: number
  constructor(line: number, what: string) {
    super(`line ${line}: ${what}`)
    this.line = line
  }
}

export interface WatchedFileOptions<T> {
  path: string
  /** What the file is, for log lines ("htpasswd file"). */
  label: string
  parse: (text: string) => T
  log: ProviderLog
  /** Poll interval of fs.watchFile. Default 1000 ms. */
  intervalMs?: number
  /** Called after each successful (re)load with the new value. */
  onLoad?: (value: T) => void
  /**
   * Called once a re-read has put new contents in force (not after the first read): the
   * providers pass env.changed, so the front drops cached answers the old contents gave.
   */
  onChange?: () => void
}

export class WatchedFile<T> {
  #value: T
  #opts: WatchedFileOptions<T>
  #generation = 0
  #closed = false
  #listener: (curr: Stats, prev: Stats) => void
  #settle: NodeJS.Timeout | undefined

  private constructor(value: T, opts: WatchedFileOptions<T>) {
    this.#value = value
    this.#opts = opts
    this.#listener = (curr, prev) => this.#changed(curr, prev)
    watchFile(opts.path, { interval: opts.intervalMs ?? 1000, persistent: false }, this.#listener)
  }

  /** Reads and parses the file; rejects (file missing, unreadable, malformed) with the cause. */
  static async open<T>(opts: WatchedFileOptions<T>): Promise<WatchedFile<T>> {
    const value = opts.parse(await readFile(opts.path, 'utf8'))
    opts.onLoad?.(value)
    return new WatchedFile(value, opts)
  }

  get current(): T {
    return this.#value
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    clearTimeout(this.#settle)
    unwatchFile(this.#opts.path, this.#listener)
  }

  /**
   * A deleted file shows as zeroed stats: the reload then fails with ENOENT and warns. The file
   * is read once it has stopped changing for one interval: an editor writing in place truncates
   * first, and a file caught empty half-way would parse (no users) and be put in force.
   */
  #changed(curr: Stats, prev: Stats): void {
    if (this.#closed) return
    if (curr.mtimeMs === prev.mtimeMs && curr.size === prev.size && curr.ino === prev.ino) return
    ++this.#generation
    clearTimeout(this.#settle)
    this.#settle = setTimeout(() => void this.#reload(), this.#opts.intervalMs ?? 1000)
    this.#settle.unref()
  }

  async #reload(): Promise<void> {
    const generation = ++this.#generation
    const { path, label, log } = this.#opts
    try {
      const before = await stat(path)
      const text = await readFile(path, 'utf8')
      const after = await stat(path)
      // Written to while we read: the poll will see the change and settle again.
      if (after.mtimeMs !== before.mtimeMs || after.size !== before.size || after.ino !== before.ino) return
      const value = this.#opts.parse(text)
      // A newer change started a newer reload: let that one win.
      if (generation !== this.#generation || this.#closed) return
      this.#value = value
      this.#opts.onLoad?.(value)
      log.info(`${label} reloaded`, { file: path, size: before.size })
    } catch (err) {
      if (generation !== this.#generation || this.#closed) return
      const reason =
        err instanceof FileFormatError ? err.message : ((err as NodeJS.ErrnoException).code ?? 'read error')
      log.warn(`${label} could not be reloaded; keeping the previous contents`, { file: path, reason })
      return
    }
    // Outside the try: a failing listener must not be reported as a failed reload (the new contents are in force).
    try {
      this.#opts.onChange?.()
    } catch (err) {
      log.error(`${label} change listener failed`, { file: path, error: (err as Error)?.message ?? String(err) })
    }
  }
}
