/**
 * A SQLite database locked by another connection past the busy timeout is a technical failure
 * that passes: it becomes GH_ERR_PROVIDER_UNAVAILABLE (503 with Retry-After, never a 401), with
 * one clear log line per failed call. Shared by the sqlite and django providers.
 */
import { errors, type GatehouseError } from '../errors.js'
import type { ProviderLog } from './contract.js'

const BUSY = new Set([
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_BUSY_SNAPSHOT',
  'SQLITE_BUSY_RECOVERY',
  'SQLITE_LOCKED_SHAREDCACHE',
])

export function isSqliteBusy(err: unknown): boolean {
  const seen = new Set<unknown>()
  for (let e = err; e !== null && typeof e === 'object' && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e)
    if (BUSY.has(String((e as { code?: unknown }).code))) return true
  }
  return false
}

/** Maps a busy/locked error to GH_ERR_PROVIDER_UNAVAILABLE (and logs it); anything else is rethrown as is. */
export function busyToUnavailable(
  err: unknown,
  name: string,
  database: string,
  busyTimeoutMs: number,
  log: ProviderLog,
): GatehouseError | unknown {
  if (!isSqliteBusy(err)) return err
  log.error('database is locked by another connection: login failed closed (503)', { database, busyTimeoutMs })
  return errors.GH_ERR_PROVIDER_UNAVAILABLE(
    name,
    `database ${database} stayed locked past the busy timeout (${busyTimeoutMs} ms)`,
    { cause: err },
  )
}
