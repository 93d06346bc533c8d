/**
 * Loads a provider module from its specifier (pino's transport `target` model): a built-in
 * name ('htpasswd' | 'htdigest' | 'sqlite' | 'django'), a path relative to env.baseDir (or
 * absolute, or a file: URL), or a package name resolved from env.baseDir. The default export
 * is the provider object or a factory called with (options, env). Every error names the specifier.
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { extname, isAbsolute, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { errors, isGatehouseError } from '../errors.js'
import type { Provider, ProviderEnv } from './contract.js'

export const BUILTIN_PROVIDERS = ['htpasswd', 'htdigest', 'sqlite', 'django'] as const
export type BuiltinProvider = (typeof BUILTIN_PROVIDERS)[number]

const PROVIDER_METHODS = ['checkPassword', 'getRealmHash', 'groupsForUser', 'allowAccess', 'findUserByHash'] as const

/** providers/<name>/index.ts beside src/ (tsx), or index.js beside dist/src/ (compiled). */
function builtinUrl(name: BuiltinProvider): string {
  const here = fileURLToPath(import.meta.url)
  const ext = extname(here) === '.ts' ? '.ts' : '.js'
  const file = resolve(here, '..', '..', '..', 'providers', name, `index${ext}`)
  return pathToFileURL(file).href
}

function noChange(): void {}

/** Turns a specifier into an importable URL; throws GH_ERR_PROVIDER_LOAD when it cannot be found. */
export function resolveProviderSpecifier(specifier: string, baseDir: string): string {
  if (typeof specifier !== 'string' || specifier === '')
    throw errors.GH_ERR_PROVIDER_LOAD(String(specifier), 'empty specifier')
  if ((BUILTIN_PROVIDERS as readonly string[]).includes(specifier)) return builtinUrl(specifier as BuiltinProvider)
  if (specifier.startsWith('file:')) return specifier
  if (specifier.startsWith('.') || isAbsolute(specifier)) {
    const file = resolve(baseDir, specifier)
    if (!existsSync(file)) throw errors.GH_ERR_PROVIDER_LOAD(specifier, `no file at ${file}`)
    return pathToFileURL(file).href
  }
  try {
    return pathToFileURL(createRequire(join(baseDir, 'noop.js')).resolve(specifier)).href
  } catch (err) {
    throw errors.GH_ERR_PROVIDER_LOAD(specifier, `cannot resolve it from ${baseDir}: ${(err as Error).message}`, {
      cause: err,
    })
  }
}

export async function loadProvider(
  specifier: string,
  options: Record<string, unknown>,
  env: ProviderEnv,
): Promise<Provider> {
  const url = resolveProviderSpecifier(specifier, env.baseDir)
  let mod: { default?: unknown }
  try {
    mod = (await import(url)) as { default?: unknown }
  } catch (err) {
    throw errors.GH_ERR_PROVIDER_LOAD(specifier, `import failed: ${(err as Error)?.message ?? String(err)}`, {
      cause: err,
    })
  }
  const exported = mod.default
  // Modules written in plain JS may call env.changed() unguarded: give every host's env one.
  const full: ProviderEnv = { ...env, changed: env.changed ?? noChange }
  let provider: unknown
  try {
    provider =
      typeof exported === 'function'
        ? await (exported as (o: unknown, e: ProviderEnv) => unknown)(options, full)
        : exported
  } catch (err) {
    if (isGatehouseError(err, 'GH_ERR_PROVIDER_LOAD')) throw err
    throw errors.GH_ERR_PROVIDER_LOAD(specifier, `factory failed: ${(err as Error)?.message ?? String(err)}`, {
      cause: err,
    })
  }
  if (provider === null || typeof provider !== 'object') {
    throw errors.GH_ERR_PROVIDER_LOAD(
      specifier,
      'the default export is neither a provider object nor a factory returning one',
    )
  }
  const p = provider as Record<string, unknown>
  if (typeof p.checkPassword !== 'function' && typeof p.getRealmHash !== 'function') {
    throw errors.GH_ERR_PROVIDER_LOAD(specifier, 'the provider has neither checkPassword nor getRealmHash')
  }
  return provider as Provider
}

/** The contract methods a loaded provider implements. */
export function providerMethods(provider: Provider): Array<(typeof PROVIDER_METHODS)[number]> {
  return PROVIDER_METHODS.filter((m) => typeof provider[m] === 'function')
}
