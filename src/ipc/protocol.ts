/**
 * The front ↔ daemon wire protocol. Nothing else lives here.
 *
 * Data path: one persistent unix socket per worker process, many requests multiplexed on it.
 * Each frame is `u32 length | u8 type | u32 stream id | payload`, big-endian, where length
 * counts type + id + payload. A request head is one frame (one write); bodies flow both ways as
 * DATA frames bounded by a per-stream credit window (CREDIT frames return consumed bytes).
 *
 * Control path: the Node IPC channel between supervisor and child (init, ready, shutdown).
 */

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

/** The provider methods a CALL may name (the Provider contract); a worker reports which it has. */
export const PROVIDER_METHODS = ['checkPassword', 'getRealmHash', 'groupsForUser', 'allowAccess', 'findUserByHash'] as const
export type ProviderMethodName = (typeof PROVIDER_METHODS)[number]

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

// ── control messages over the Node IPC channel ─────────────────────────────────────────────

export interface WorkerInit {
  type: 'init'
  v: number
  group: string
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

export type FromWorker = WorkerReady | WorkerFailed | WorkerChanged
