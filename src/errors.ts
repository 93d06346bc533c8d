/**
 * The one table of gatehouse errors. Every error thrown on purpose carries a stable
 * `GH_ERR_<AREA>_<WHAT>` code, an HTTP status for the request path, and keeps `cause`.
 * A retired code is never reused.
 */
import { format } from 'node:util'

export class GatehouseError extends Error {
  readonly code: string
  readonly statusCode: number
  constructor(code: string, statusCode: number, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'GatehouseError'
    this.code = code
    this.statusCode = statusCode
  }
}

export interface ErrorFactory {
  (...args: unknown[]): GatehouseError
  readonly code: string
  readonly statusCode: number
}

function define(code: string, statusCode: number, template: string): ErrorFactory {
  const make = (...args: unknown[]): GatehouseError => {
    const last = args[args.length - 1]
    let cause: unknown
    if (
      last !== null &&
      typeof last === 'object' &&
      'cause' in (last as object) &&
      args.length > countPlaceholders(template)
    ) {
      cause = (last as { cause: unknown }).cause
      args = args.slice(0, -1)
    }
    return new GatehouseError(code, statusCode, format(template, ...args), cause === undefined ? undefined : { cause })
  }
  return Object.assign(make, { code, statusCode })
}

function countPlaceholders(template: string): number {
  return (template.match(/%[sdjio]/g) ?? []).length
}

export const errors = {
  GH_ERR_CONFIG_INVALID: define('GH_ERR_CONFIG_INVALID', 500, 'invalid configuration: %s'),
  GH_ERR_CONFIG_READ: define('GH_ERR_CONFIG_READ', 500, 'cannot read configuration file %s: %s'),
  GH_ERR_OPT_INVALID: define('GH_ERR_OPT_INVALID', 500, '%s'),
  GH_ERR_PROVIDER_FAILED: define('GH_ERR_PROVIDER_FAILED', 500, 'provider %s failed: %s'),
  GH_ERR_PROVIDER_TIMEOUT: define('GH_ERR_PROVIDER_TIMEOUT', 503, 'provider %s did not answer within %d ms'),
  GH_ERR_PROVIDER_BAD_RESULT: define('GH_ERR_PROVIDER_BAD_RESULT', 500, 'provider %s returned %s from %s, expected %s'),
  GH_ERR_PROVIDER_UNAVAILABLE: define('GH_ERR_PROVIDER_UNAVAILABLE', 503, 'provider %s is unavailable: %s'),
  GH_ERR_PROVIDER_BUSY: define(
    'GH_ERR_PROVIDER_BUSY',
    503,
    'provider %s is busy: %d calls in flight, waited %d ms for a slot',
  ),
  GH_ERR_PROVIDER_LOAD: define('GH_ERR_PROVIDER_LOAD', 500, 'cannot load provider %s: %s'),
  GH_ERR_PROVIDER_NO_DIGEST: define(
    'GH_ERR_PROVIDER_NO_DIGEST',
    500,
    'provider %s has no getRealmHash, so it cannot serve Digest',
  ),
  GH_ERR_AUTH_BAD_REQUEST: define('GH_ERR_AUTH_BAD_REQUEST', 400, '%s'),
  GH_ERR_BODY_TOO_LARGE: define('GH_ERR_BODY_TOO_LARGE', 413, 'request body larger than %d bytes'),
  GH_ERR_AUTH_BODY_TOO_LARGE: define(
    'GH_ERR_AUTH_BODY_TOO_LARGE',
    413,
    'a qop=auth-int body is hashed in memory and may be at most %d bytes',
  ),
  GH_ERR_AUTH_DENIED: define('GH_ERR_AUTH_DENIED', 401, 'invalid credentials'),
  GH_ERR_AUTH_THROTTLED: define('GH_ERR_AUTH_THROTTLED', 429, 'too many failed logins: retry in %d s'),
  GH_ERR_AUTH_FORBIDDEN: define('GH_ERR_AUTH_FORBIDDEN', 403, 'not allowed'),
  GH_ERR_UPSTREAM_FAILED: define('GH_ERR_UPSTREAM_FAILED', 502, 'upstream %s failed: %s'),
  GH_ERR_UPSTREAM_TIMEOUT: define('GH_ERR_UPSTREAM_TIMEOUT', 504, 'upstream %s timed out'),
  GH_ERR_GROUP_UNAVAILABLE: define('GH_ERR_GROUP_UNAVAILABLE', 503, 'group %s has no live process'),
  GH_ERR_GROUP_BUSY: define('GH_ERR_GROUP_BUSY', 503, 'group %s is busy: queued longer than %d ms'),
  GH_ERR_GROUP_TIMEOUT: define('GH_ERR_GROUP_TIMEOUT', 504, 'group %s did not answer within %d ms'),
  GH_ERR_GROUP_FAILED: define('GH_ERR_GROUP_FAILED', 502, 'group %s failed: %s'),
  GH_ERR_IPC_PROTOCOL: define('GH_ERR_IPC_PROTOCOL', 502, 'IPC protocol error: %s'),
  GH_ERR_IPC_CLOSED: define('GH_ERR_IPC_CLOSED', 502, 'IPC channel closed: %s'),
  GH_ERR_WORKER_START: define('GH_ERR_WORKER_START', 500, 'front worker %d did not start: %s (%s)'),
  GH_ERR_IPC_TIMEOUT: define('GH_ERR_IPC_TIMEOUT', 504, 'IPC request timed out: %s'),
  GH_ERR_FILE_RANGE: define(
    'GH_ERR_FILE_RANGE',
    500,
    'file response %s: window offset %s length %s does not fit a file of %d bytes',
  ),
  GH_ERR_FILE_READ: define('GH_ERR_FILE_READ', 500, 'file response %s cannot be read: %s'),
  GH_ERR_USERSTORE_FAILED: define('GH_ERR_USERSTORE_FAILED', 500, 'user store %s: %s'),
  GH_ERR_CLI_USAGE: define('GH_ERR_CLI_USAGE', 2, '%s'),
  GH_ERR_ADMIN_LISTEN: define('GH_ERR_ADMIN_LISTEN', 500, 'admin listener %s: %s'),
  GH_ERR_ADMIN_UNREACHABLE: define('GH_ERR_ADMIN_UNREACHABLE', 503, 'admin interface %s: %s'),
  GH_ERR_ADMIN_REFUSED: define('GH_ERR_ADMIN_REFUSED', 500, 'admin interface %s answered %d: %s'),
  GH_ERR_STATE_UNAVAILABLE: define('GH_ERR_STATE_UNAVAILABLE', 503, 'shared state store %s is unavailable: %s'),
  GH_ERR_CONFIG_RELOAD: define('GH_ERR_CONFIG_RELOAD', 500, 'configuration reload failed: %s'),
  GH_ERR_TLS_CERTIFICATE: define('GH_ERR_TLS_CERTIFICATE', 500, '%s: %s'),
} as const satisfies Record<string, ErrorFactory>

export type ErrorCode = keyof typeof errors

export function isGatehouseError(err: unknown, code?: ErrorCode): err is GatehouseError {
  return err instanceof GatehouseError && (code === undefined || err.code === code)
}
