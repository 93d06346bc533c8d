/**
 * The front ↔ daemon wire protocol. Nothing else lives here.
 *
 * Data path: one persistent unix socket per worker process, many requests multiplexed on it.
 * Each frame is `u32 length | u8 type | u32 stream id | payload`, big-endian, where length
 * counts type + id + payload. A request head is one frame (one write); bodies flow both ways as
 * DATA frames bounded by a per-stream credit window (CREDIT frames return consumed bytes).
 *
 * Control path: fd 3 of the worker, a socketpair carrying one JSON object per line both ways
 * (init, ready, failed, changed, log, shutdown); see control-channel.ts. docs/protocol.md is the
 * reference a worker in another language is written from.
 */
import { PROVIDER_METHODS, type ProviderMethodName } from '../providers/contract.js'

export const PROTOCOL_VERSION = 1

export const Frame = {
  /** front → worker, stream 0: the group secret; must be the first frame on a connection. */
  HELLO: 1,
  /** worker → front, stream 0: JSON HelloAck. */
  HELLO_OK: 2,
  /** front → worker: JSON RequestHead. */
  HEAD: 3,
  /** both ways: raw body bytes. */
  DATA: 4,
  /** both ways: end of the body. */
  END: 5,
  /** worker → front: JSON ResponseHead. */
  RESPONSE_HEAD: 6,
  /** both ways: JSON StreamError; the stream is over (front → worker: the client went away). */
  ERROR: 7,
  /** both ways: u32 bytes consumed by the receiver, returned to the sender's window. */
  CREDIT: 8,
  /** front → worker: JSON CallRequest (provider method). */
  CALL: 9,
  /** worker → front: JSON CallResult. */
  RESULT: 10,
} as const

export type FrameType = (typeof Frame)[keyof typeof Frame]

export const FRAME_HEADER_BYTES = 9
/** Longest frame accepted (heads and call arguments are small; DATA frames are split below this). */
export const MAX_FRAME_BYTES = 8 * 1024 * 1024
/** Largest DATA payload a sender puts in one frame. */
export const MAX_DATA_BYTES = 256 * 1024
/** Bytes a sender may have in flight per stream before the receiver returns credit. */
export const STREAM_WINDOW = 1024 * 1024

export interface HelloAck {
  v: number
  pid: number
}

export interface RequestHead {
  method: string
  url: string
  headers: Record<string, string | string[]>
  remoteAddress?: string
  /** false: no body follows (END implied). */
  body: boolean
  /** What the front knows of the request beyond its head, for gateways such as WSGI (sent to Python workers only). */
  gateway?: GatewayInfo
}

/** The CGI-style facts a WSGI environ needs that the request head alone does not carry. */
export interface GatewayInfo {
  /** The route's prefix ('' for the root route): SCRIPT_NAME. */
  scriptName: string
  /** https behind TLS or a trusted proxy's X-Forwarded-Proto, else http. */
  scheme: 'http' | 'https'
  /** The front's local port the request came in on. */
  serverPort: number
  /** The authenticated user, on a route with auth: REMOTE_USER. */
  remoteUser?: string
  /** 'Basic' or 'Digest', with remoteUser: AUTH_TYPE. */
  authType?: string
}

export interface ResponseHead {
  status: number
  headers: Record<string, string | string[]>
}

export interface StreamError {
  code: string
  message: string
}

export interface CallRequest {
  method: string
  args: unknown[]
}

export type CallResult = { ok: true; value: unknown } | { ok: false; code: string; message: string }

// The provider methods a CALL may name are the contract's (a worker reports which it has).
export { PROVIDER_METHODS, type ProviderMethodName }

/** Encodes a frame header for a payload of `payloadBytes`. */
export function frameHeader(type: FrameType, id: number, payloadBytes: number): Buffer {
  const h = Buffer.allocUnsafe(FRAME_HEADER_BYTES)
  h.writeUInt32BE(payloadBytes + 5, 0)
  h.writeUInt8(type, 4)
  h.writeUInt32BE(id, 5)
  return h
}

/** Encodes a whole frame into one buffer (heads, small control frames). */
export function encodeFrame(type: FrameType, id: number, payload?: Buffer | string): Buffer {
  if (payload === undefined) return frameHeader(type, id, 0)
  const bytes = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + bytes)
  out.writeUInt32BE(bytes + 5, 0)
  out.writeUInt8(type, 4)
  out.writeUInt32BE(id, 5)
  if (typeof payload === 'string') out.write(payload, FRAME_HEADER_BYTES)
  else payload.copy(out, FRAME_HEADER_BYTES)
  return out
}

export function creditPayload(bytes: number): Buffer {
  const b = Buffer.allocUnsafe(4)
  b.writeUInt32BE(bytes, 0)
  return b
}

// ── control messages: fd 3, newline-delimited JSON (control-channel.ts) ──────────────────

/** The worker's fd carrying the control channel. */
export const CONTROL_FD = 3
/** Longest control line accepted, newline excluded (init with a long provider options object fits). */
export const MAX_CONTROL_LINE_BYTES = 1024 * 1024

/** Which runtime a group's processes are (spawn-spec.ts): a Node app or a Python WSGI app. */
export type WorkerKind = 'node' | 'python'

export interface WorkerInit {
  type: 'init'
  v: number
  kind: WorkerKind
  group: string
  /** Node: the app module; Python: the WSGI file defining `application`. */
  app: string
  provider?: string
  /** Handed to the provider module's factory (groups.NAME.providerOptions). */
  providerOptions?: Record<string, unknown>
  socketPath: string
  /** hex; also required as the HELLO payload on every data connection. */
  secret: string
  /** Drop to this user (and unixGroup) before loading code, when started as root. */
  user?: string
  unixGroup?: string
  /** Python: request threads per process. */
  threads?: number
  /** Python: directories put first on sys.path. */
  pythonPath?: string[]
  /** Python: whether the group may run more than one process (wsgi.multiprocess). */
  multiprocess?: boolean
  /** Python: the group's fileRoots; wsgi.file_wrapper of a file under one becomes a file response. */
  fileRoots?: string[]
}

export interface WorkerShutdown {
  type: 'shutdown'
  /** How long the worker may take to finish open streams before it exits anyway. */
  graceMs: number
}

export type ToWorker = WorkerInit | WorkerShutdown

export interface WorkerReady {
  type: 'ready'
  pid: number
  /** The methods the group's provider module implements; absent when the group has none. */
  providerMethods?: ProviderMethodName[]
}

export interface WorkerFailed {
  type: 'failed'
  code: string
  message: string
}

/** The group's provider module called env.changed(): the front drops that provider's cached successes. */
export interface WorkerChanged {
  type: 'changed'
}

export type LogLevel = 'info' | 'warn' | 'error'

/** A log record of the worker's own (not the app's stdout/stderr, which the front logs line by line). */
export interface WorkerLog {
  type: 'log'
  level: LogLevel
  msg: string
  fields?: Record<string, unknown>
}

export type FromWorker = WorkerReady | WorkerFailed | WorkerChanged | WorkerLog

/** Thrown by the readers below; the message says what was wrong, never echoes the whole line. */
export class ControlMessageError extends Error {}

const LOG_LEVELS: ReadonlySet<string> = new Set(['info', 'warn', 'error'])
const METHOD_NAMES: ReadonlySet<string> = new Set(PROVIDER_METHODS)

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function str(m: Record<string, unknown>, key: string, max = 64 * 1024): string {
  const v = m[key]
  if (typeof v !== 'string' || v.length > max)
    throw new ControlMessageError(`${String(m.type)}.${key}: expected a string`)
  return v
}

/** Validates one control message from a worker (the front trusts nothing a worker says). */
export function readFromWorker(value: unknown): FromWorker {
  if (!isRecord(value)) throw new ControlMessageError('expected a JSON object')
  switch (value.type) {
    case 'ready': {
      const pid = value.pid
      if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0)
        throw new ControlMessageError('ready.pid: expected a positive integer')
      if (value.providerMethods === undefined) return { type: 'ready', pid }
      const methods = value.providerMethods
      if (
        !Array.isArray(methods) ||
        methods.length > PROVIDER_METHODS.length ||
        !methods.every((m) => typeof m === 'string' && METHOD_NAMES.has(m))
      ) {
        throw new ControlMessageError(`ready.providerMethods: expected a list of ${PROVIDER_METHODS.join(', ')}`)
      }
      return { type: 'ready', pid, providerMethods: [...new Set(methods as ProviderMethodName[])] }
    }
    case 'failed':
      return { type: 'failed', code: str(value, 'code', 200), message: str(value, 'message') }
    case 'changed':
      return { type: 'changed' }
    case 'log': {
      const level = value.level
      if (typeof level !== 'string' || !LOG_LEVELS.has(level))
        throw new ControlMessageError('log.level: expected info, warn or error')
      const msg = str(value, 'msg')
      if (value.fields !== undefined && !isRecord(value.fields))
        throw new ControlMessageError('log.fields: expected an object')
      return value.fields === undefined
        ? { type: 'log', level: level as LogLevel, msg }
        : { type: 'log', level: level as LogLevel, msg, fields: value.fields }
    }
    default:
      throw new ControlMessageError(`unknown message type ${JSON.stringify(String(value.type)).slice(0, 40)}`)
  }
}

/** Validates one control message from the front, inside a Node worker. */
export function readToWorker(value: unknown): ToWorker {
  if (!isRecord(value)) throw new ControlMessageError('expected a JSON object')
  if (value.type === 'shutdown') {
    if (typeof value.graceMs !== 'number' || !(value.graceMs >= 0))
      throw new ControlMessageError('shutdown.graceMs: expected a number of ms')
    return { type: 'shutdown', graceMs: value.graceMs }
  }
  if (value.type === 'init') {
    // The version is the worker's to check, so that a mismatch is reported as `failed`.
    if (typeof value.v !== 'number') throw new ControlMessageError('init.v: expected a number')
    for (const key of ['group', 'app', 'socketPath', 'secret']) str(value, key)
    return value as unknown as WorkerInit
  }
  throw new ControlMessageError(`unknown message type ${JSON.stringify(String(value.type)).slice(0, 40)}`)
}
