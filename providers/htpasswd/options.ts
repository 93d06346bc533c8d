/** Option checks shared by the file-based providers: errors name the provider and the option. */
import { resolve } from 'node:path'
import { errors } from '../../src/errors.js'
import type { ProviderEnv } from '../../src/providers/contract.js'

export function fileOption(
  options: Record<string, unknown>,
  key: string,
  env: ProviderEnv,
  required: boolean,
): string | undefined {
  const value = options[key]
  if (value === undefined && !required) return undefined
  if (typeof value !== 'string' || value === '') {
    throw errors.GH_ERR_PROVIDER_LOAD(env.name, `option "${key}" must be a non-empty string`)
  }
  return resolve(env.baseDir, value)
}

export function intervalOption(options: Record<string, unknown>, env: ProviderEnv): number {
  const value = options.watchIntervalMs ?? 1000
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 10) {
    throw errors.GH_ERR_PROVIDER_LOAD(env.name, 'option "watchIntervalMs" must be an integer >= 10')
  }
  return value
}

/** Opening errors name the file and the reason (ENOENT, EACCES, line N), never its contents. */
export function loadError(env: ProviderEnv, label: string, file: string, err: unknown): Error {
  const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message
  return errors.GH_ERR_PROVIDER_LOAD(env.name, `${label} ${file}: ${reason}`, { cause: err })
}
