/**
 * The pino logger and its conventions. Credentials are redacted at the logger as a second
 * line of defence; the first is that no code path logs headers or passwords at all.
 */
import {
  pino,
  symbols,
  type Bindings,
  type ChildLoggerOptions,
  type DestinationStream,
  type Level,
  type LevelWithSilentOrString,
  type LogFn,
  type Logger,
  type LoggerOptions,
} from 'pino'

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
    // The pid comes from a mixin rather than the base bindings: a record's own pid (a daemon
    // process it is about) then replaces it instead of being written beside it.
    base: null,
    mixin: () => ({ pid: process.pid }),
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    hooks: { logMethod: uniqueKeys },
  }
}

/**
 * Keys pino writes itself (level, time, msg) and keys a logger is bound to are
 * written again when a record's fields repeat them: pino appends, it does not merge, and a line
 * with a key twice reads differently in jq (last wins) than in other tools. A repeated field
 * with the bound value is dropped; one with another value is kept under another name.
 */
const WRITTEN_BY_PINO = ['level', 'time', 'msg']
const boundKeys = new WeakMap<object, { keys: Set<string>; withoutMsg: Set<string>; values: Record<string, unknown> }>()

function uniqueKeys(this: Logger, args: Parameters<LogFn>, method: LogFn): void {
  const fields = args[0] as unknown
  if (fields === null || typeof fields !== 'object' || fields instanceof Error) return method.apply(this, args)
  const bound = boundOf(this)
  // Without a message argument, pino takes the message from the fields' own msg.
  const keys = typeof args[1] === 'string' || !('msg' in fields) ? bound.keys : bound.withoutMsg
  for (const k in fields) {
    if (keys.has(k)) {
      args[0] = withoutBoundKeys(fields as Record<string, unknown>, keys, bound.values)
      break
    }
  }
  return method.apply(this, args)
}

function boundOf(log: Logger): { keys: Set<string>; withoutMsg: Set<string>; values: Record<string, unknown> } {
  let bound = boundKeys.get(log)
  if (bound === undefined) {
    const values: Record<string, unknown> = log.bindings()
    const keys = new Set([...WRITTEN_BY_PINO, ...Object.keys(values)])
    const withoutMsg = new Set(keys)
    withoutMsg.delete('msg')
    bound = { keys, withoutMsg, values }
    boundKeys.set(log, bound)
  }
  return bound
}

/**
 * Fields from elsewhere (a daemon process's log record) made safe to log through `log` with a
 * message: a key the logger writes itself is renamed, so the record cannot pass for another
 * group's, whatever logger it goes through.
 */
export function foreignFields(log: Logger, fields: Record<string, unknown>): Record<string, unknown> {
  const { keys } = boundOf(log)
  for (const k in fields) if (keys.has(k)) return withoutBoundKeys(fields, keys, {})
  return fields
}

function withoutBoundKeys(
  fields: Record<string, unknown>,
  keys: Set<string>,
  values: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const clashes: Array<[string, unknown]> = []
  for (const k in fields) {
    const v = fields[k]
    if (!keys.has(k)) out[k] = v
    else if (!(k in values) || values[k] !== v) clashes.push([k, v])
  }
  for (const [k, v] of clashes) {
    let name = `${k}Field`
    while (keys.has(name) || name in out) name = `_${name}`
    out[name] = v
  }
  return out
}

/**
 * A child bound only to the keys its parent is not bound to already: pino would write a key
 * bound twice twice.
 */
export function childWith(log: Logger, bindings: Bindings): Logger {
  const have = log.bindings()
  const fresh: Bindings = {}
  for (const k in bindings) if (!(k in have)) fresh[k] = bindings[k]
  return Object.keys(fresh).length === 0 ? log : log.child(fresh)
}

export function createLogger(level = 'info', destination?: NodeJS.WritableStream): Logger {
  return destination
    ? pino(loggerOptions(level), destination as unknown as DestinationStream)
    : pino(loggerOptions(level))
}

/**
 * The logger for access lines: `log` without the redaction pass. Only for lines whose fields are
 * fixed and known safe (method, path without query, status, user name, address, time): the
 * redaction walk costs more than the rest of such a line.
 */
export function accessLogger(log: Logger): Logger {
  return log.child({}, { redact: { paths: [] } })
}

/** The fields of an access line, in the order they are written. */
export interface AccessFields {
  reqId: string
  method: string
  url: string
  status: number
  user: string
  remote: string
  ms: number
}

/**
 * Writes access lines for `access` (an accessLogger) as pino would write
 * `access.info(fields, 'access')`, byte for byte up to string escaping, without pino's per-call
 * work (the uniqueKeys hook, the mixin, the generic serializer): the line is a fixed template
 * whose free-form values (path, user, address) go through JSON.stringify. Nothing is written
 * when the logger's level leaves out info. For the front's fast path.
 */
export function accessLineWriter(access: Logger): (fields: AccessFields) => void {
  const stream = (access as unknown as Record<symbol, { write(line: string): unknown }>)[symbols.streamSym]!
  const info = access.levels.values.info!
  return (f) => {
    if (!access.isLevelEnabled('info')) return
    stream.write(
      `{"level":${info},"time":${Date.now()},"pid":${process.pid},"reqId":${JSON.stringify(f.reqId)},"method":${JSON.stringify(f.method)},"url":${JSON.stringify(f.url)},"status":${f.status},"user":${JSON.stringify(f.user)},"remote":${JSON.stringify(f.remote)},"ms":${f.ms},"msg":"access"}\n`,
    )
  }
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

  fatal(...args: unknown[]): void {
    ;(this.#log.fatal as LogMethod).apply(this.#log, args)
  }
  error(...args: unknown[]): void {
    ;(this.#log.error as LogMethod).apply(this.#log, args)
  }
  warn(...args: unknown[]): void {
    ;(this.#log.warn as LogMethod).apply(this.#log, args)
  }
  info(...args: unknown[]): void {
    ;(this.#log.info as LogMethod).apply(this.#log, args)
  }
  debug(...args: unknown[]): void {
    ;(this.#log.debug as LogMethod).apply(this.#log, args)
  }
  trace(...args: unknown[]): void {
    ;(this.#log.trace as LogMethod).apply(this.#log, args)
  }
  silent(): void {}
}

export type { Logger }
