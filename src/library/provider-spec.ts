/**
 * The library's `provider` option: an in-process object implementing the Provider interface
 * (called directly: a daemon group's GroupProvider is one), or a description of a built-in or
 * module provider (`{ type: 'htpasswd', file }`, `{ type: 'module', module }`), which runs in
 * worker threads (ThreadProvider) so hashing never stalls the app's event loop. Validated
 * synchronously, naming the option; started and closed with the plugin.
 */
import { builtinProviderOptions } from '../config/schema.js'
import { resolve } from 'node:path'
import { errors } from '../errors.js'
import type { NamedProvider } from '../auth/provider-chain.js'
import { builtinProviders } from '../config/parse.js'
import type { Provider, ProviderLog } from '../providers/contract.js'
import { ThreadProvider } from '../providers/thread-pool.js'

/** A built-in provider (worker threads). Other keys are its options (`groupFile`, `plaintext` ...). */
export interface BuiltinProviderSpec {
  type: 'htpasswd' | 'htdigest' | 'sqlite' | 'django'
  /** htpasswd / htdigest file, relative to `baseDir`. */
  file?: string
  /** sqlite / django database, relative to `baseDir`. */
  database?: string
  /** Names the provider in logs and cache tags. Default: the type. */
  name?: string
  /** Worker threads (default 2). */
  threads?: number
  /** Per-call timeout in ms (default 10000): past it the request is answered 503. */
  timeoutMs?: number
  /** CPU priority of the threads, nice 0–19 (default 15: below your event loop's). */
  nice?: number
  /** While your event loop is 80% busy or more, the share of its time each thread may hash (default 0.25; 1: never rest). */
  shareWhenBusy?: number
  [option: string]: unknown
}

/** Your provider module (default export: the object or `async (options, env) => Provider`), in worker threads. */
export interface ModuleProviderSpec {
  type: 'module'
  /** Path relative to `baseDir`, absolute path, file: URL or package name. */
  module: string
  options?: Record<string, unknown>
  name?: string
  threads?: number
  timeoutMs?: number
  nice?: number
  shareWhenBusy?: number
}

export type ProviderSpec = Provider | BuiltinProviderSpec | ModuleProviderSpec

export interface ResolvedProviders {
  readonly chain: readonly NamedProvider[]
  /** Starts the threaded ones and checks Digest capability once their methods are known. Idempotent. */
  start(): Promise<void>
  /** Stops the threaded ones (in-process objects belong to the caller). Idempotent. */
  close(): Promise<void>
  /** Calls `listener` with the chain name of a threaded provider whose data changed (a file re-read). */
  onChanged(listener: (name: string) => void): void
}

const SPEC_KEYS = new Set(['type', 'module', 'options', 'name', 'threads', 'timeoutMs', 'nice', 'shareWhenBusy'])
const PATH_KEYS = ['file', 'database', 'groupFile']

export function resolveProviders(
  spec: ProviderSpec | readonly ProviderSpec[] | undefined,
  opts: { baseDir: string; log: ProviderLog; digest: boolean; option?: string },
): ResolvedProviders {
  const option = opts.option ?? 'provider'
  const list = Array.isArray(spec) ? spec : [spec]
  if (list.length === 0) throw errors.GH_ERR_OPT_INVALID(`${option} must name at least one provider`)
  const threaded: ThreadProvider[] = []
  const names = new Map<ThreadProvider, string>()
  const used = new Set<string>()
  const unique = (name: string): string => {
    let n = name
    for (let i = 2; used.has(n); i++) n = `${name}#${i}`
    used.add(n)
    return n
  }
  const chain = list.map((s, i): NamedProvider => {
    const key = list.length > 1 ? `${option}[${i}]` : option
    if (s === null || typeof s !== 'object')
      throw errors.GH_ERR_OPT_INVALID(
        `${key} must be a provider object or { type, ... }, got ${s === null ? 'null' : typeof s}`,
      )
    const o = s as Record<string, unknown>
    if (typeof o.type !== 'string') {
      if (typeof o.checkPassword !== 'function' && typeof o.getRealmHash !== 'function') {
        throw errors.GH_ERR_OPT_INVALID(
          `${key} has neither checkPassword nor getRealmHash (nor a type such as "htpasswd")`,
        )
      }
      if (opts.digest && typeof o.getRealmHash !== 'function')
        throw errors.GH_ERR_OPT_INVALID(`${key}: ${errors.GH_ERR_PROVIDER_NO_DIGEST(String(o.name ?? key)).message}`)
      return {
        name: unique(typeof o.name === 'string' && o.name !== '' ? o.name : `provider${i}`),
        provider: s as Provider,
      }
    }
    const p = threadedProvider(o, key, opts)
    threaded.push(p)
    const name = unique(p.name)
    names.set(p, name)
    return { name, provider: p }
  })

  let started: Promise<void> | undefined
  let closed: Promise<void> | undefined
  return {
    chain,
    start() {
      started ??= (async () => {
        await Promise.all(threaded.map((p) => p.start()))
        for (const np of chain) {
          if (opts.digest && typeof np.provider.getRealmHash !== 'function')
            throw errors.GH_ERR_OPT_INVALID(`${option}: ${errors.GH_ERR_PROVIDER_NO_DIGEST(np.name).message}`)
        }
      })()
      return started
    },
    close() {
      closed ??= Promise.allSettled(threaded.map((p) => p.close())).then(() => undefined)
      return closed
    },
    onChanged(listener) {
      for (const p of threaded) p.onChanged(() => listener(names.get(p) as string))
    },
  }
}

function threadedProvider(
  o: Record<string, unknown>,
  key: string,
  opts: { baseDir: string; log: ProviderLog; digest: boolean },
): ThreadProvider {
  const type = o.type as string
  const builtin = builtinProviders[type]
  if (type !== 'module' && !builtin)
    throw errors.GH_ERR_OPT_INVALID(
      `${key}.type must be one of htpasswd, htdigest, sqlite, django, module, got ${type}`,
    )
  if (type === 'module' && (typeof o.module !== 'string' || o.module === ''))
    throw errors.GH_ERR_OPT_INVALID(`${key}.module is required when type is module`)
  if ((type === 'htpasswd' || type === 'htdigest') && typeof o.file !== 'string')
    throw errors.GH_ERR_OPT_INVALID(`${key}.file is required for type ${type}`)
  if ((type === 'sqlite' || type === 'django') && typeof o.database !== 'string')
    throw errors.GH_ERR_OPT_INVALID(`${key}.database is required for type ${type}`)
  if (opts.digest && builtin?.digest === false)
    throw errors.GH_ERR_OPT_INVALID(`${key}: ${errors.GH_ERR_PROVIDER_NO_DIGEST(type).message}`)
  let options: Record<string, unknown>
  if (type === 'module') {
    options = { ...((o.options as Record<string, unknown> | undefined) ?? {}) }
  } else {
    options = {}
    const known = builtinProviderOptions[type as keyof typeof builtinProviderOptions]
    for (const [k, v] of Object.entries(o)) {
      if (SPEC_KEYS.has(k)) continue
      // A typo (plaintxt) must not pass silently: the same keys as the configuration file's.
      if (!known.includes(k as never))
        throw errors.GH_ERR_OPT_INVALID(
          `${key}.${k} is not an option of type ${type} (expected one of: ${[...known, ...SPEC_KEYS].join(', ')})`,
        )
      options[k] = v
    }
    for (const k of PATH_KEYS)
      if (typeof options[k] === 'string') options[k] = resolve(opts.baseDir, options[k] as string)
  }
  const name = typeof o.name === 'string' && o.name !== '' ? o.name : type === 'module' ? (o.module as string) : type
  return new ThreadProvider({
    name,
    specifier: type === 'module' ? (o.module as string) : type,
    options,
    baseDir: opts.baseDir,
    ...(o.threads !== undefined ? { threads: o.threads as number } : {}),
    ...(o.timeoutMs !== undefined ? { callTimeoutMs: o.timeoutMs as number } : {}),
    ...(o.nice !== undefined ? { nice: o.nice as number } : {}),
    ...(o.shareWhenBusy !== undefined ? { shareWhenBusy: o.shareWhenBusy as number } : {}),
    log: opts.log,
  })
}
