/**
 * File responses (mod_wsgi's wsgi.file_wrapper): an app names a file, the front sends it from
 * disk. Confined to allowed roots after symlink resolution; Content-Length, ETag and
 * Last-Modified, conditional requests (RFC 9110 §13), one byte range (RFC 9110 §14), HEAD.
 * The file is streamed (a read stream with start/end), never read whole into memory.
 */
import { constants as fsc } from 'node:fs'
import { open, realpath } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import type { IncomingHttpHeaders } from 'node:http'
import path from 'node:path'
import type { FastifyReply } from 'fastify'
import { errors } from '../errors.js'
import { sendRefusal } from '../error-page.js'

export interface FileResponse {
  /** Absolute, or relative to the first root. */
  path: string
  /** First byte of the window of the file the app allows to be sent. Default 0. */
  offset?: number
  /** Length of that window. Default: the rest of the file. */
  length?: number
  contentType?: string
  /** Status of the full response. Conditionals and Range apply only when it is 200 (the default). */
  status?: number
  headers?: Record<string, string | string[]>
}

export interface FileRequest {
  method: string
  headers: IncomingHttpHeaders
}

/** Describe the bytes sent, so they are computed here and never taken from the app. */
const OWN_HEADERS = new Set([
  'content-length',
  'content-range',
  'content-type',
  'accept-ranges',
  'etag',
  'last-modified',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'trailer',
  'upgrade',
])

/** No symlink as last component (swapped in after realpath); a FIFO must not block the open. */
const OPEN_FLAGS = fsc.O_RDONLY | (fsc.O_NOFOLLOW ?? 0) | (fsc.O_NONBLOCK ?? 0)

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.xml': 'application/xml',
  '.csv': 'text/csv; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.pdf': 'application/pdf',
  '.zip': 'application/zip',
  '.gz': 'application/gzip',
  '.tar': 'application/x-tar',
  '.wasm': 'application/wasm',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
  '.mp3': 'audio/mpeg',
  '.ogg': 'audio/ogg',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
}

/**
 * Sends `file` as the response. Refusals are answered here: outside the roots, a directory or
 * anything but a regular file → 403; missing → 404; a window beyond the file → 500 (logged).
 * Resolves once the response has been handed to Fastify.
 */
export async function sendFile(
  raw: FileRequest,
  reply: FastifyReply,
  file: FileResponse,
  roots: string[],
): Promise<void> {
  const located = await locate(file.path, roots)
  if (typeof located === 'number') return plain(reply, located)
  let handle: FileHandle
  try {
    handle = await open(located, OPEN_FLAGS)
  } catch (err) {
    return plain(reply, statusForFsError(err, reply, located))
  }
  let handedOver = false
  try {
    const st = await handle.stat()
    if (!st.isFile()) return plain(reply, 403)
    const offset = file.offset ?? 0
    const length = file.length ?? st.size - offset
    if (!fitsWindow(offset, length, st.size)) {
      reply.log.error(
        { err: errors.GH_ERR_FILE_RANGE(located, file.offset, file.length, st.size) },
        'file response refused',
      )
      return plain(reply, 500)
    }
    setAppHeaders(reply, file.headers)
    reply.header('content-type', file.contentType ?? typeFor(reply, located))
    const body = (start: number, len: number): void => {
      handedOver = stream(reply, raw.method, handle, start, len)
    }
    if (file.status !== undefined && file.status !== 200) {
      reply.code(file.status)
      return body(offset, length)
    }

    const etag = `W/"${[st.size, Math.floor(st.mtimeMs), offset, length].map((n) => n.toString(16)).join('-')}"`
    const lastModified = Math.floor(st.mtimeMs / 1000) * 1000
    reply
      .header('accept-ranges', 'bytes')
      .header('etag', etag)
      .header('last-modified', new Date(lastModified).toUTCString())
    const outcome = evaluate(raw.method, raw.headers, etag, lastModified, length)
    if (outcome === 304) {
      reply.removeHeader('content-type')
      reply.code(304).send()
    } else if (outcome === 412) {
      plain(reply, 412)
    } else if (outcome === 'unsatisfiable') {
      plain(reply, 416, `bytes */${length}`)
    } else if (outcome === 'full') {
      reply.code(200)
      body(offset, length)
    } else {
      reply.code(206).header('content-range', `bytes ${outcome.start}-${outcome.end}/${length}`)
      body(offset + outcome.start, outcome.end - outcome.start + 1)
    }
  } finally {
    if (!handedOver) await handle.close().catch(() => {})
  }
}

/**
 * range-unit "=" range-set; range-set = 1#range-spec (empty list elements are skipped);
 * int-range = first-pos "-" [ last-pos ]; suffix-range = "-" suffix-length.
 * Returns the inclusive byte range; 'unsatisfiable' (→ 416); or 'ignore' (→ the whole
 * representation): another unit, malformed, more than one range, or a suffix of an empty file.
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-14.1.2
 */
const RANGES_SPECIFIER = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)=(.*)$/
const INT_RANGE = /^(\d+)-(\d*)$/
const SUFFIX_RANGE = /^-(\d+)$/

export function parseRange(header: string, size: number): { start: number; end: number } | 'unsatisfiable' | 'ignore' {
  if (typeof header !== 'string') throw new TypeError('header must be a string')
  if (!Number.isSafeInteger(size) || size < 0) throw new TypeError('size must be a non-negative integer')
  const spec = RANGES_SPECIFIER.exec(header.trim())
  if (spec === null || spec[1]!.toLowerCase() !== 'bytes') return 'ignore'
  const ranges = spec[2]!
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
  if (ranges.length !== 1) return 'ignore'
  const int = INT_RANGE.exec(ranges[0]!)
  if (int !== null) {
    const start = Number(int[1])
    const last = int[2] === '' ? Infinity : Number(int[2])
    if (last < start) return 'ignore'
    if (start >= size) return 'unsatisfiable'
    return { start, end: Math.min(last, size - 1) }
  }
  const suffix = SUFFIX_RANGE.exec(ranges[0]!)
  if (suffix === null) return 'ignore'
  const n = Number(suffix[1])
  if (n === 0) return 'unsatisfiable'
  if (size === 0) return 'ignore'
  return { start: Math.max(0, size - n), end: size - 1 }
}

type Outcome = 'full' | 304 | 412 | 'unsatisfiable' | { start: number; end: number }

/** Preconditions in the order of RFC 9110 §13.2.2, for GET and HEAD only; then Range (GET only). */
function evaluate(
  method: string,
  headers: IncomingHttpHeaders,
  etag: string,
  lastModified: number,
  size: number,
): Outcome {
  if (method !== 'GET' && method !== 'HEAD') return 'full'
  const ifMatch = one(headers['if-match'])
  if (ifMatch !== undefined) {
    if (!etagListMatches(ifMatch, etag, true)) return 412
  } else {
    const since = httpDate(headers['if-unmodified-since'])
    if (since !== undefined && lastModified > since) return 412
  }
  const ifNoneMatch = one(headers['if-none-match'])
  if (ifNoneMatch !== undefined) {
    if (etagListMatches(ifNoneMatch, etag, false)) return 304
  } else {
    const since = httpDate(headers['if-modified-since'])
    if (since !== undefined && lastModified <= since) return 304
  }
  const range = one(headers.range)
  if (method !== 'GET' || range === undefined) return 'full'
  const ifRange = one(headers['if-range'])
  if (ifRange !== undefined && !ifRangeMatches(ifRange.trim(), etag, lastModified)) return 'full'
  const parsed = parseRange(range, size)
  return parsed === 'ignore' ? 'full' : parsed
}

/**
 * If-Match / If-None-Match = "*" / #entity-tag; entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE.
 * Strong comparison: both strong and equal; weak: opaque tags equal. Malformed → no match.
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-8.8.3
 */
const ENTITY_TAG = /\s*(W\/)?("[\x21\x23-\x7e\x80-\xff]*")\s*(?:,|$)/y

function etagListMatches(list: string, etag: string, strong: boolean): boolean {
  if (list.trim() === '*') return true
  const ours = etag.startsWith('W/') ? etag.slice(2) : etag
  const oursWeak = etag.startsWith('W/')
  ENTITY_TAG.lastIndex = 0
  let m: RegExpExecArray | null
  while (ENTITY_TAG.lastIndex < list.length && (m = ENTITY_TAG.exec(list)) !== null) {
    if (m[2] === ours && (!strong || (m[1] === undefined && !oursWeak))) return true
  }
  return false
}

/** If-Range = entity-tag / HTTP-date: a strong match is required (RFC 9110 §13.1.5). */
function ifRangeMatches(value: string, etag: string, lastModified: number): boolean {
  if (value.startsWith('"') || value.startsWith('W/')) return etagListMatches(value, etag, true)
  return httpDate(value) === lastModified
}

function httpDate(value: string | string[] | undefined): number | undefined {
  const v = one(value)
  if (v === undefined) return undefined
  const ms = Date.parse(v)
  return Number.isNaN(ms) ? undefined : ms
}

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value
}

/** Resolves the file inside one of the roots: its real path, or the status to refuse with. */
async function locate(filePath: string, roots: string[]): Promise<string | number> {
  if (typeof filePath !== 'string' || filePath === '' || filePath.includes('\0')) return 403
  const given = roots.filter((r) => typeof r === 'string' && r !== '' && !r.includes('\0')).map((r) => path.resolve(r))
  if (given.length === 0) return 403
  const real = (await Promise.all(given.map((r) => realpath(r).catch(() => null)))).filter(
    (r): r is string => r !== null,
  )
  const requested = path.resolve(given[0]!, filePath)
  // Lexical check first, so a missing file outside the roots answers 403, never 404.
  if (![...given, ...real].some((root) => isInside(root, requested))) return 403
  let resolved: string
  try {
    resolved = await realpath(requested)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    return code === 'ENOENT' || code === 'ENOTDIR' ? 404 : 403
  }
  return real.some((root) => isInside(root, resolved)) ? resolved : 403
}

function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate)
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel)
}

function fitsWindow(offset: number, length: number, size: number): boolean {
  return (
    Number.isSafeInteger(offset) &&
    Number.isSafeInteger(length) &&
    offset >= 0 &&
    length >= 0 &&
    offset + length <= size
  )
}

function typeFor(reply: FastifyReply, file: string): string {
  const fromApp = reply.getHeader('content-type')
  if (typeof fromApp === 'string') return fromApp
  return TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream'
}

function setAppHeaders(reply: FastifyReply, headers: FileResponse['headers']): void {
  for (const [name, value] of Object.entries(headers ?? {})) {
    const lower = name.toLowerCase()
    if (lower === 'content-type' && typeof value === 'string') reply.header(lower, value)
    else if (!OWN_HEADERS.has(lower)) reply.header(lower, value)
  }
}

/** Sends `length` bytes from `start`; true when the stream now owns the file handle. */
function stream(reply: FastifyReply, method: string, handle: FileHandle, start: number, length: number): boolean {
  reply.header('content-length', String(length))
  if (method === 'HEAD') {
    reply.send()
    return false
  }
  if (length === 0) {
    reply.send('')
    return false
  }
  reply.send(handle.createReadStream({ start, end: start + length - 1, autoClose: true }))
  return true
}

const TEXT: Record<number, string> = {
  403: 'Forbidden',
  404: 'Not Found',
  412: 'Precondition Failed',
  416: 'Range Not Satisfiable',
  500: 'Internal Server Error',
}

function plain(reply: FastifyReply, status: number, contentRange?: string): void {
  for (const name of ['etag', 'last-modified', 'content-range', 'content-length']) reply.removeHeader(name)
  if (contentRange !== undefined) reply.header('content-range', contentRange)
  sendRefusal(reply, status, `${TEXT[status] ?? 'Error'}\n`)
}

function statusForFsError(err: unknown, reply: FastifyReply, file: string): number {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'ENOENT' || code === 'ENOTDIR') return 404
  if (code === 'ELOOP' || code === 'EACCES' || code === 'EPERM' || code === 'EISDIR') return 403
  reply.log.error(
    { err: errors.GH_ERR_FILE_READ(file, code ?? 'unknown error', { cause: err }) },
    'file response failed',
  )
  return 500
}
