/**
 * Helpers for applications running in a daemon group (import them from 'gatehouse-auth/app' or this
 * file). The front sets the authenticated identity in request headers it controls (client
 * copies are removed), and consumes the file-response header itself.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { resolve } from 'node:path'

export const DEFAULT_USER_HEADER = 'x-remote-user'
export const DEFAULT_GROUPS_HEADER = 'x-remote-groups'
/** Response header naming a file the front sends from disk (percent-encoded absolute path). */
export const FILE_HEADER = 'x-gatehouse-file'
export const FILE_OFFSET_HEADER = 'x-gatehouse-file-offset'
export const FILE_LENGTH_HEADER = 'x-gatehouse-file-length'

export interface IdentityHeaderNames {
  user?: string
  groups?: string
}

export interface Identity {
  /** The authenticated user, undefined on an unauthenticated route. */
  user: string | undefined
  groups: string[]
}

type RequestLike = Pick<IncomingMessage, 'headers'>

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

/** REMOTE_USER's equivalent. */
export function getUser(req: RequestLike, names: IdentityHeaderNames = {}): string | undefined {
  const value = single(req.headers[(names.user ?? DEFAULT_USER_HEADER).toLowerCase()])
  return value === undefined || value === '' ? undefined : value
}

/** The user's groups (a comma-separated header; empty entries dropped). */
export function getGroups(req: RequestLike, names: IdentityHeaderNames = {}): string[] {
  const value = req.headers[(names.groups ?? DEFAULT_GROUPS_HEADER).toLowerCase()]
  const joined = Array.isArray(value) ? value.join(',') : (value ?? '')
  return joined
    .split(',')
    .map((g) => g.trim())
    .filter((g) => g !== '')
}

export function getIdentity(req: RequestLike, names: IdentityHeaderNames = {}): Identity {
  return { user: getUser(req, names), groups: getGroups(req, names) }
}

export interface SendFileOptions {
  /** First byte of the window of the file that may be sent. */
  offset?: number
  /** Length of that window. */
  length?: number
  contentType?: string
  /** Status of the full response (default res.statusCode, normally 200). */
  status?: number
}

/**
 * Answers with a file that the front sends from disk (wsgi.file_wrapper): sets the file header
 * (path resolved against the process's cwd, the group's app root) and ends the response with
 * no body. The front checks the path against the group's file roots and handles Range, HEAD and
 * conditional requests; the header never reaches the client.
 */
export function sendFile(res: ServerResponse, path: string, opts: SendFileOptions = {}): void {
  for (const [name, n] of [
    ['offset', opts.offset],
    ['length', opts.length],
  ] as const) {
    if (n !== undefined && (!Number.isSafeInteger(n) || n < 0))
      throw new TypeError(`sendFile: ${name} must be a non-negative integer, got ${n}`)
  }
  res.setHeader(FILE_HEADER, encodeURIComponent(resolve(path)))
  if (opts.offset !== undefined) res.setHeader(FILE_OFFSET_HEADER, String(opts.offset))
  if (opts.length !== undefined) res.setHeader(FILE_LENGTH_HEADER, String(opts.length))
  if (opts.contentType !== undefined) res.setHeader('content-type', opts.contentType)
  if (opts.status !== undefined) res.statusCode = opts.status
  res.removeHeader('content-length')
  res.end()
}
