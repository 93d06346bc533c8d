/**
 * Reads the JSON payloads of frames (protocol.ts) and checks their shape. The peer is another
 * process, possibly running application code as a less privileged user: what it sends is input,
 * not a typed value. Each reader returns undefined when the payload is not JSON or not of the
 * expected shape; the caller treats that as a protocol error of that connection alone.
 */
import type { CallRequest, CallResult, HelloAck, RequestHead, ResponseHead, StreamError } from './protocol.js'

type Json = Record<string, unknown>

function parseObject(payload: Buffer): Json | undefined {
  let value: unknown
  try {
    value = JSON.parse(payload.toString())
  } catch {
    return undefined
  }
  return isObject(value) ? value : undefined
}

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isHeaders(value: unknown): value is Record<string, string | string[]> {
  if (!isObject(value)) return false
  for (const v of Object.values(value)) {
    if (typeof v === 'string') continue
    if (!Array.isArray(v) || !v.every((item) => typeof item === 'string')) return false
  }
  return true
}

export function readHelloAck(payload: Buffer): HelloAck | undefined {
  const o = parseObject(payload)
  return o !== undefined && typeof o.v === 'number' && typeof o.pid === 'number'
    ? (o as unknown as HelloAck)
    : undefined
}

/** Status: the three digits RFC 9110 §15 allows; Node's http server itself refuses others. */
export function readResponseHead(payload: Buffer): ResponseHead | undefined {
  const o = parseObject(payload)
  if (o === undefined || !Number.isInteger(o.status) || (o.status as number) < 100 || (o.status as number) > 999)
    return undefined
  return isHeaders(o.headers) ? { status: o.status as number, headers: o.headers } : undefined
}

export function readStreamError(payload: Buffer): StreamError | undefined {
  const o = parseObject(payload)
  return o !== undefined && typeof o.code === 'string' && typeof o.message === 'string'
    ? { code: o.code, message: o.message }
    : undefined
}

export function readCallResult(payload: Buffer): CallResult | undefined {
  const o = parseObject(payload)
  if (o === undefined) return undefined
  if (o.ok === true) return { ok: true, value: o.value }
  if (o.ok === false && typeof o.code === 'string' && typeof o.message === 'string')
    return { ok: false, code: o.code, message: o.message }
  return undefined
}

export function readRequestHead(payload: Buffer): RequestHead | undefined {
  const o = parseObject(payload)
  if (o === undefined || typeof o.method !== 'string' || typeof o.url !== 'string' || typeof o.body !== 'boolean')
    return undefined
  if (!isHeaders(o.headers) || (o.remoteAddress !== undefined && typeof o.remoteAddress !== 'string')) return undefined
  return { method: o.method, url: o.url, headers: o.headers, remoteAddress: o.remoteAddress, body: o.body }
}

export function readCallRequest(payload: Buffer): CallRequest | undefined {
  const o = parseObject(payload)
  return o !== undefined && typeof o.method === 'string' && Array.isArray(o.args)
    ? { method: o.method, args: o.args }
    : undefined
}
