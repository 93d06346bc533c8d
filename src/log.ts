/**
 * The pino logger and its conventions. Credentials are redacted at the logger as a second
 * line of defence; the first is that no code path logs headers or passwords at all.
 */
import { pino, type Bindings, type ChildLoggerOptions, type DestinationStream, type Level, type LevelWithSilentOrString, type Logger, type LoggerOptions } from 'pino'

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'headers.authorization',
  'headers["proxy-authorization"]',
  '*.password',
  'password',
  'authorization',
]

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    base: { pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  }
}

export function createLogger(level = 'info', destination?: NodeJS.WritableStream): Logger {
  return destination ? pino(loggerOptions(level), destination as unknown as DestinationStream) : pino(loggerOptions(level))
}

/**
 * The logger for access lines: `log` without the redaction pass. Only for lines whose fields are
 * fixed and known safe (method, path without query, status, user name, address, time): the
 * redaction walk costs more than the rest of such a line.
 */
export function accessLogger(log: Logger): Logger {
  return log.child({}, { redact: { paths: [] } })
}

type LogMethod = (this: Logger, ...args: unknown[]) => void

/**
 * Fastify's per-request logger (its `childLoggerFactory`), made on first use: most requests
 * never log through request.log, and a pino child per request is a measurable cost.
 * Same output as `logger.child(bindings, opts)`, which it creates when first called.
 */
export function lazyChildLogger(logger: Logger, bindings: Bindings, opts: ChildLoggerOptions): Logger {
  return new LazyChild(logger, bindings, opts) as unknown as Logger
}

class LazyChild {
  readonly #parent: Logger
  readonly #bindings: Bindings
  readonly #opts: ChildLoggerOptions
  #child: Logger | undefined

  constructor(parent: Logger, bindings: Bindings, opts: ChildLoggerOptions) {
    this.#parent = parent
    this.#bindings = bindings
    this.#opts = opts
  }

  get #log(): Logger {
    return (this.#child ??= this.#parent.child(this.#bindings, this.#opts))
  }

  get level(): LevelWithSilentOrString {
    return this.#child?.level ?? this.#opts.level ?? this.#parent.level
  }

  set level(level: LevelWithSilentOrString) {
    this.#log.level = level
  }

  isLevelEnabled(level: Level): boolean {
    return this.#log.isLevelEnabled(level)
  }

  bindings(): Bindings {
    return this.#log.bindings()
  }

  child(bindings: Bindings, opts?: ChildLoggerOptions): Logger {
    return this.#log.child(bindings, opts)
  }

  fatal(...args: unknown[]): void { (this.#log.fatal as LogMethod).apply(this.#log, args) }
  error(...args: unknown[]): void { (this.#log.error as LogMethod).apply(this.#log, args) }
  warn(...args: unknown[]): void { (this.#log.warn as LogMethod).apply(this.#log, args) }
  info(...args: unknown[]): void { (this.#log.info as LogMethod).apply(this.#log, args) }
  debug(...args: unknown[]): void { (this.#log.debug as LogMethod).apply(this.#log, args) }
  trace(...args: unknown[]): void { (this.#log.trace as LogMethod).apply(this.#log, args) }
  silent(): void {}
}

export type { Logger }
