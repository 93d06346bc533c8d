/**
 * The CLI's side of the admin interface: finds it (--admin URL or socket path, else the
 * `admin:` section of --config), finds the token (--token-file, GATEHOUSE_ADMIN_TOKEN, or the
 * configuration's token/tokenFile), and sends one request. Loopback or unix socket only.
 */
import { request as httpRequest } from 'node:http'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { errors } from '../errors.js'
import type { AdminConfig } from '../config/types.js'

export interface AdminTarget {
  /** For messages: http://host:port or unix:PATH. */
  where: string
  socketPath?: string
  host?: string
  port?: number
  token?: string
}

export interface AdminTargetFlags {
  admin?: string
  config?: string
  'token-file'?: string
}

/** Resolves where the admin interface is; throws GH_ERR_CLI_USAGE when it cannot tell. */
export async function adminTarget(flags: AdminTargetFlags, env: NodeJS.ProcessEnv = process.env): Promise<AdminTarget> {
  let target: AdminTarget
  let configToken: string | undefined
  if (flags.admin !== undefined) {
    target = parseAdminFlag(flags.admin)
  } else {
    const { loadConfigFile } = await import('../config/load-file.js')
    const file = flags.config ?? 'gatehouse.yaml'
    const config = await loadConfigFile(file)
    if (config.admin === undefined)
      throw errors.GH_ERR_CLI_USAGE(
        `${file} has no admin: section; add admin: { socket: PATH } or { host, port }, or pass --admin`,
      )
    target = fromConfig(config.admin)
    configToken = tokenOf(config.admin)
  }
  const token =
    flags['token-file'] !== undefined ? readToken(flags['token-file']) : (env.GATEHOUSE_ADMIN_TOKEN ?? configToken)
  return token !== undefined ? { ...target, token } : target
}

function parseAdminFlag(value: string): AdminTarget {
  if (value.startsWith('unix:')) return { where: value, socketPath: resolve(value.slice(5)) }
  if (!/^https?:\/\//.test(value)) return { where: `unix:${resolve(value)}`, socketPath: resolve(value) }
  const url = new URL(value)
  if (url.protocol !== 'http:')
    throw errors.GH_ERR_CLI_USAGE(
      `--admin ${value}: the admin interface speaks plain HTTP on loopback; use http:// or a socket path`,
    )
  return { where: `http://${url.host}`, host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 80) }
}

function fromConfig(admin: AdminConfig): AdminTarget {
  if (admin.kind === 'socket') return { where: `unix:${admin.socket}`, socketPath: admin.socket }
  const host = admin.host === '0.0.0.0' ? '127.0.0.1' : admin.host === '::' ? '::1' : admin.host
  return { where: `http://${host.includes(':') ? `[${host}]` : host}:${admin.port}`, host, port: admin.port }
}

function tokenOf(admin: AdminConfig): string | undefined {
  if (admin.token !== undefined) return admin.token
  return admin.tokenFile !== undefined ? readToken(admin.tokenFile) : undefined
}

function readToken(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim()
  } catch (err) {
    throw errors.GH_ERR_CLI_USAGE(
      `cannot read the admin token from ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    )
  }
}

export interface AdminResponse {
  status: number
  body: string
}

export function adminRequest(
  target: AdminTarget,
  method: 'GET' | 'POST',
  path: string,
  timeoutMs = 60_000,
): Promise<AdminResponse> {
  return new Promise((resolvePromise, reject) => {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (target.token !== undefined) headers.authorization = `Bearer ${target.token}`
    if (target.host !== undefined)
      headers.host = `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`
    const req = httpRequest(
      {
        method,
        path,
        headers,
        timeout: timeoutMs,
        ...(target.socketPath !== undefined
          ? { socketPath: target.socketPath }
          : { host: target.host, port: target.port }),
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () =>
          resolvePromise({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        )
        res.on('error', reject)
      },
    )
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)))
    req.on('error', (err: NodeJS.ErrnoException) =>
      reject(
        errors.GH_ERR_ADMIN_UNREACHABLE(
          target.where,
          err.code === 'ECONNREFUSED' || err.code === 'ENOENT'
            ? 'nothing is listening (is gatehouse running?)'
            : (err.code ?? err.message),
          { cause: err },
        ),
      ),
    )
    req.end()
  })
}

/** Parses a JSON answer or throws GH_ERR_ADMIN_REFUSED naming the status. */
export function jsonBody<T>(target: AdminTarget, res: AdminResponse): T {
  try {
    return JSON.parse(res.body) as T
  } catch {
    throw errors.GH_ERR_ADMIN_REFUSED(target.where, res.status, res.body.trim().slice(0, 200))
  }
}
