/**
 * The facts of a request a WSGI environ needs beyond its head (SCRIPT_NAME, wsgi.url_scheme,
 * SERVER_PORT, REMOTE_USER, AUTH_TYPE), as Apache and mod_wsgi derive them.
 */
import type { IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { splitAuthorization } from '../auth/auth-header.js'
import type { GatewayInfo } from '../ipc/protocol.js'

const AUTH_TYPES: Record<string, string> = { basic: 'Basic', digest: 'Digest' }

/**
 * `forwarded`: the headers as the front forwards them, whose X-Forwarded-Proto is the front's
 * own scheme unless a trusted proxy set it (buildForwardHeaders).
 */
export function gatewayInfo(
  routePath: string,
  raw: IncomingMessage,
  forwarded: Record<string, string | string[]>,
  identity: { user: string } | undefined,
): GatewayInfo {
  const proto = forwarded['x-forwarded-proto']
  const first = (Array.isArray(proto) ? proto[0] : proto)?.split(',')[0]?.trim().toLowerCase()
  const info: GatewayInfo = {
    scriptName: routePath === '/' ? '' : routePath,
    scheme: first === 'https' ? 'https' : 'http',
    serverPort: raw.socket.localPort ?? (raw.socket.address() as AddressInfo).port ?? 0,
  }
  if (identity !== undefined) {
    info.remoteUser = identity.user
    const credentials = raw.headers.authorization ?? raw.headers['proxy-authorization']
    const scheme = credentials === undefined ? undefined : splitAuthorization(credentials)?.scheme
    if (scheme !== undefined && AUTH_TYPES[scheme] !== undefined) info.authType = AUTH_TYPES[scheme]
  }
  return info
}
