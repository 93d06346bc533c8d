/**
 * Turns what fails while `gatehouse start` brings the gateway up into one `gatehouse:` line that
 * names the configuration key and what to do. Node's own errors (`listen EADDRINUSE`, `ENOENT:
 * no such file or directory, open …`) say what the system refused, not which line of the
 * configuration asked for it.
 */
import type { Config } from '../config/types.js'
import { isGatehouseError } from '../errors.js'

type SystemError = Error & { code?: string; syscall?: string; path?: string; address?: string; port?: number }

const FILE_REASONS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied to the user running gatehouse',
  EISDIR: 'is a directory, not a file',
}

/** The line to print for `err`, or undefined when there is nothing better than its own message. */
export function explainStartError(err: unknown, config: Config | undefined, configFile: string): string | undefined {
  const wrapped = isGatehouseError(err, 'GH_ERR_ADMIN_LISTEN') || isGatehouseError(err, 'GH_ERR_TLS_CERTIFICATE')
  const e = (wrapped ? (err as Error).cause : err) as SystemError | undefined
  // A certificate that loads but is refused (not PEM, a key that does not match) has no system cause: its own message names the key.
  if (e === undefined || e === null || typeof e !== 'object') return undefined
  const check = `\`gatehouse check-config --config ${configFile}\` checks every file the configuration names`
  if (e.syscall === 'listen' && (e.code === 'EADDRINUSE' || e.code === 'EACCES')) {
    const admin = isGatehouseError(err, 'GH_ERR_ADMIN_LISTEN')
    const key = admin ? 'admin.port' : 'listen.port'
    const where = `${e.address ?? config?.listen.host ?? ''}:${e.port ?? config?.listen.port ?? ''}`
    if (e.code === 'EADDRINUSE')
      return `${key}: ${where} is already in use by another process; stop that process or set ${key} to a free port`
    return `${key}: not allowed to listen on ${where} (ports below 1024 need root or CAP_NET_BIND_SERVICE); set ${key} to 1024 or above`
  }
  const reason = e.code === undefined ? undefined : FILE_REASONS[e.code]
  if (reason !== undefined && typeof e.path === 'string') {
    const tls = config?.listen.tls
    if (tls !== undefined && e.path === tls.cert)
      return `listen.tls.cert: cannot read ${e.path}: ${reason}; correct listen.tls.cert or make the file readable by the user running gatehouse`
    if (tls !== undefined && e.path === tls.key)
      return `listen.tls.key: cannot read ${e.path}: ${reason}; correct listen.tls.key or make the file readable by the user running gatehouse`
    return `cannot read ${e.path}: ${reason}; ${check}`
  }
  return undefined
}
