/**
 * A daemon group as a route target: the request goes to one of the group's processes over its
 * unix socket, the response streams back. A response naming a file (X-Gatehouse-File) is sent
 * from disk by the front (send-file.ts) within the group's file roots; that header never
 * reaches the client. Group failures map to short text answers: 503 (+ Retry-After) when the
 * group is down or busy, 504 on a request timeout, 502 when the process failed mid-request.
 */
import { STATUS_CODES } from 'node:http'
import type { FastifyReply } from 'fastify'
import type { Logger } from 'pino'
import { FILE_HEADER, FILE_LENGTH_HEADER, FILE_OFFSET_HEADER } from '../app-helpers.js'
import type { GroupHandle } from '../daemon/group.js'
import { errors, GatehouseError } from '../errors.js'
import { sendRefusal } from '../error-page.js'
import { Cancellation } from '../ipc/abort.js'
import { stripHopByHop } from './hop-by-hop.js'
import { sendFile } from './send-file.js'
import type { ForwardRequest, Target } from './target.js'

export interface GroupTargetOptions {
  /** Roots the app may answer with files from (GroupConfig.fileRoots). */
  fileRoots?: string[]
  log?: Logger
  /** Send the request's GatewayInfo along (a WSGI group builds its environ from it). */
  gateway?: boolean
}

const NO_BODY_STATUS = new Set([204, 304])

export class GroupTarget implements Target {
  readonly kind = 'group' as const
  readonly name: string
  readonly #handle: GroupHandle
  readonly #roots: string[]
  readonly #log: Logger | undefined
  readonly #gateway: boolean

  constructor(handle: GroupHandle, opts: GroupTargetOptions = {}) {
    this.name = handle.name
    this.#handle = handle
    this.#roots = opts.fileRoots ?? []
    this.#log = opts.log
    this.#gateway = opts.gateway ?? false
  }

  async forward(req: ForwardRequest, reply: FastifyReply): Promise<void> {
    const abort = new Cancellation()
    const onClose = (): void => {
      if (!reply.raw.writableFinished) abort.abort()
    }
    // 'close' comes once: a plain listener spares once()'s wrapper per request.
    reply.raw.on('close', onClose)
    let res: Awaited<ReturnType<GroupHandle['request']>>
    try {
      res = await this.#handle.request(
        this.#gateway
          ? {
              method: req.method,
              url: req.url,
              headers: req.headers,
              remoteAddress: req.remoteAddress,
              gateway: req.gateway,
            }
          : { method: req.method, url: req.url, headers: req.headers, remoteAddress: req.remoteAddress },
        req.body,
        abort,
      )
    } catch (err) {
      reply.raw.off('close', onClose)
      // Aborted by the client, or already answered (a body over the route's limit got its 413).
      if (abort.aborted || reply.sent) return
      const error =
        err instanceof GatehouseError ? err : errors.GH_ERR_GROUP_FAILED(this.name, describe(err), { cause: err })
      ;(this.#log ?? reply.log).warn({ group: this.name, code: error.code }, error.message)
      return failure(reply, error)
    }
    const headers = stripHopByHop(res.headers)
    const file = takeFileHeaders(headers)
    if (file !== undefined) {
      res.body.on('error', () => {}).destroy()
      const contentType = headers['content-type']
      delete headers['content-type']
      delete headers['content-length']
      await sendFile(
        { method: req.method, headers: req.headers },
        reply,
        {
          ...file,
          contentType: typeof contentType === 'string' ? contentType : undefined,
          status: res.status,
          headers,
        },
        this.#roots,
      )
      return
    }
    reply.code(res.status).headers(headers)
    if (req.method === 'HEAD' || NO_BODY_STATUS.has(res.status)) {
      if (res.takeComplete?.() === undefined) res.body.on('error', () => {}).resume()
      reply.send()
      return
    }
    // A small answer that arrived whole goes out as one buffer (Content-Length, one write),
    // sparing a stream (and a pipe) per request. Only with a Content-Type: Fastify would add one
    // to a buffer, which the app did not send.
    const whole = headers['content-type'] !== undefined ? res.takeComplete?.() : undefined
    reply.send(whole ?? res.body)
  }

  async close(): Promise<void> {
    // The supervisor owns the group's processes; nothing to release here.
  }
}

interface FileFields {
  path: string
  offset?: number
  length?: number
}

/** Removes the file-response headers (always) and returns them parsed, if a file was named. */
function takeFileHeaders(headers: Record<string, string | string[]>): FileFields | undefined {
  let path: string | undefined
  let offset: number | undefined
  let length: number | undefined
  for (const name of Object.keys(headers)) {
    const lower = name.toLowerCase()
    if (!lower.startsWith('x-gatehouse-')) continue
    const raw = headers[name]
    const value = Array.isArray(raw) ? raw[0] : raw
    delete headers[name]
    if (lower === FILE_HEADER) path = safeDecode(value)
    else if (lower === FILE_OFFSET_HEADER) offset = integer(value)
    else if (lower === FILE_LENGTH_HEADER) length = integer(value)
  }
  if (path === undefined) return undefined
  // A malformed number makes the window impossible, so sendFile refuses it instead of sending more.
  return { path, offset, length }
}

function integer(value: string | undefined): number {
  return value !== undefined && /^\d{1,15}$/.test(value) ? Number(value) : -1
}

function safeDecode(value: string | undefined): string {
  try {
    return decodeURIComponent(value ?? '')
  } catch {
    return ''
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

function failure(reply: FastifyReply, error: GatehouseError): void {
  const status = error.statusCode >= 500 && error.statusCode <= 599 ? error.statusCode : 502
  const retryAfter = (error as { retryAfter?: unknown }).retryAfter
  if (status === 503) reply.header('retry-after', String(typeof retryAfter === 'number' ? retryAfter : 1))
  sendRefusal(reply, status, `${STATUS_CODES[status] ?? 'Error'}\n`)
}
