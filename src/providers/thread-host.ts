/**
 * Entry point of a provider worker thread: loads the provider named in workerData, then answers
 * calls from the ThreadProvider in the parent. Messages are typed (a `type` discriminant and an
 * `id` for calls); errors carry a code and a message and never the call's arguments.
 */
import { setPriority } from 'node:os'
import { isMainThread, parentPort, workerData } from 'node:worker_threads'
import type { Provider, ProviderLog } from './contract.js'
import { loadProvider, providerMethods } from './load-module.js'
import { CpuMeter } from './thread-cpu.js'

export type ProviderMethod = 'checkPassword' | 'getRealmHash' | 'groupsForUser' | 'allowAccess' | 'findUserByHash'

export interface HostData {
  specifier: string
  options: Record<string, unknown>
  env: { baseDir: string; name: string }
  /** This thread's nice value (Linux: per thread), set before the provider loads. */
  nice: number
  /** Report the CPU time the thread used with each result (the pool rests it after heavy work). */
  measureCpu: boolean
}

/** Parent → thread. */
export type ToHost = { type: 'call'; id: number; method: ProviderMethod; args: unknown[] } | { type: 'close' }

export interface WireError {
  code: string
  message: string
}

/** Thread → parent. */
export type FromHost =
  | { type: 'ready'; methods: ProviderMethod[] }
  | { type: 'load-error'; error: WireError }
  | { type: 'result'; id: number; ok: true; value: unknown; cpuMs?: number }
  | { type: 'result'; id: number; ok: false; error: WireError; cpuMs?: number }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; msg: string; fields?: Record<string, unknown> }
  /** The provider called env.changed(): its answers may differ now (the front empties its cache entries). */
  | { type: 'changed' }

const MAX_MESSAGE = 300

function toWire(err: unknown, fallbackCode: string): WireError {
  const e = err as { code?: unknown; message?: unknown } | null
  const code = typeof e?.code === 'string' && e.code.startsWith('GH_ERR_') ? e.code : fallbackCode
  const message = typeof e?.message === 'string' ? e.message : String(err)
  return { code, message: message.slice(0, MAX_MESSAGE) }
}

/** Posts to the parent; false when the message cannot be cloned (functions, sockets ...). */
function send(msg: FromHost): boolean {
  try {
    parentPort?.postMessage(msg)
    return true
  } catch {
    return false
  }
}

function sendLog(level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void {
  if (send({ type: 'log', level, msg, fields })) return
  let safe: Record<string, unknown>
  try {
    safe = JSON.parse(JSON.stringify(fields ?? {})) as Record<string, unknown>
  } catch {
    safe = {}
  }
  send({ type: 'log', level, msg, fields: safe })
}

const log: ProviderLog = {
  info: (msg, fields) => sendLog('info', msg, fields),
  warn: (msg, fields) => sendLog('warn', msg, fields),
  error: (msg, fields) => sendLog('error', msg, fields),
}

async function answer(
  provider: Provider,
  msg: Extract<ToHost, { type: 'call' }>,
  cpu: CpuMeter | undefined,
): Promise<void> {
  const fn = provider[msg.method] as ((...args: unknown[]) => Promise<unknown>) | undefined
  if (typeof fn !== 'function') {
    send({
      type: 'result',
      id: msg.id,
      ok: false,
      error: { code: 'GH_ERR_PROVIDER_FAILED', message: `no method ${msg.method}` },
    })
    return
  }
  try {
    const value = await fn.apply(provider, msg.args)
    const cpuMs = cpu?.since()
    if (!send({ type: 'result', id: msg.id, ok: true, value, cpuMs })) {
      const error = { code: 'GH_ERR_PROVIDER_BAD_RESULT', message: 'a value that cannot be cloned' }
      send({ type: 'result', id: msg.id, ok: false, error, cpuMs })
    }
  } catch (err) {
    const raw = err instanceof Error ? err.message : String(err)
    const password =
      msg.method === 'checkPassword' && typeof msg.args[2] === 'string' && msg.args[2] !== '' ? msg.args[2] : undefined
    log.error(`provider ${msg.method} failed`, {
      error: (password ? raw.split(password).join('[redacted]') : raw).slice(0, MAX_MESSAGE),
    })
    send({ type: 'result', id: msg.id, ok: false, error: callErrorToWire(err, msg.method), cpuMs: cpu?.since() })
  }
}

/**
 * A call's failure as the front will see (and log) it. Our own coded errors keep their message;
 * anything else keeps only its class name, because a provider's message may quote the
 * password it was given. The full message is logged here, in the provider's thread, redacted.
 */
function callErrorToWire(err: unknown, method: string): WireError {
  const e = err as { code?: unknown; name?: unknown } | null
  if (typeof e?.code === 'string' && e.code.startsWith('GH_ERR_')) return toWire(err, 'GH_ERR_PROVIDER_FAILED')
  const name = typeof e?.name === 'string' ? e.name : typeof err
  return { code: 'GH_ERR_PROVIDER_FAILED', message: `${method} threw ${name}` }
}

/**
 * Lowers this thread's CPU priority. On Linux setpriority(2) with pid 0 names the calling
 * thread, not the process, so the front's main thread keeps its own priority. Other systems
 * would lower the whole process: there the threads keep the default.
 */
function lowerPriority(nice: number): void {
  if (nice === 0 || process.platform !== 'linux') return
  try {
    setPriority(nice)
  } catch (err) {
    log.warn("cannot lower the provider thread's CPU priority", { nice, error: (err as Error).message })
  }
}

async function main(data: HostData): Promise<void> {
  lowerPriority(data.nice)
  let provider: Provider
  try {
    provider = await loadProvider(data.specifier, data.options, {
      ...data.env,
      log,
      changed: () => void send({ type: 'changed' }),
    })
  } catch (err) {
    send({ type: 'load-error', error: toWire(err, 'GH_ERR_PROVIDER_LOAD') })
    return
  }
  const cpu = data.measureCpu ? CpuMeter.open() : undefined
  parentPort?.on('message', (msg: ToHost) => {
    if (msg.type === 'call') {
      void answer(provider, msg, cpu)
    } else if (msg.type === 'close') {
      void Promise.resolve()
        .then(() => provider.close?.())
        .catch((err: unknown) =>
          log.warn('provider close failed', { error: toWire(err, 'GH_ERR_PROVIDER_FAILED').message }),
        )
        .finally(() => process.exit(0))
    }
  })
  send({ type: 'ready', methods: providerMethods(provider) })
}

if (!isMainThread && parentPort !== null) void main(workerData as HostData)
