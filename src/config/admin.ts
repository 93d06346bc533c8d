/**
 * The `admin:` section: a loopback TCP listener or a unix socket. A non-loopback address is
 * refused unless a token protects it (the admin interface can stop the gateway).
 */
import { isIP } from 'node:net'
import { resolve } from 'node:path'
import type { AdminConfig } from './types.js'
import type { RawAdmin } from './raw-types.js'
import { DEFAULTS } from './defaults.js'

export const DEFAULT_ADMIN_PORT = DEFAULTS['admin.port']

export function parseAdmin(raw: RawAdmin, baseDir: string, problems: string[]): AdminConfig {
  const auth = {
    ...(raw.token !== undefined ? { token: raw.token } : {}),
    ...(raw.tokenFile !== undefined ? { tokenFile: resolve(baseDir, raw.tokenFile) } : {}),
  }
  if (raw.token !== undefined && raw.tokenFile !== undefined)
    problems.push('admin.tokenFile: give either token or tokenFile, not both')
  if (raw.socket !== undefined) {
    if (raw.host !== undefined || raw.port !== undefined)
      problems.push('admin.socket: give either socket or host/port, not both')
    return { kind: 'socket', socket: resolve(baseDir, raw.socket), ...auth }
  }
  const host = raw.host ?? DEFAULTS['admin.host']
  if (!isLoopback(host) && raw.token === undefined && raw.tokenFile === undefined) {
    problems.push(`admin.host: ${host} is not a loopback address; set admin.token or admin.tokenFile to listen there`)
  }
  return { kind: 'tcp', host, port: raw.port ?? DEFAULT_ADMIN_PORT, ...auth }
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true
  if (isIP(host) === 4) return host.startsWith('127.')
  return host === '::1'
}
