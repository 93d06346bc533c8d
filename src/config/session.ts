/**
 * The `session:` section (form login, docs/form-login.md): defaults, and the checks the schema
 * cannot make: the login and logout paths must not be a route's own path or the sidecar's, and
 * form login cannot be proxy authentication (a proxy cannot serve a login page of its own).
 */
import { resolve } from 'node:path'
import type { RouteConfig, SessionConfig } from './types.js'
import type { RawSession } from './raw-types.js'
import { DEFAULTS, defaultMs } from './defaults.js'

export const DEFAULT_LOGIN_PATH = DEFAULTS['session.loginPath']
export const DEFAULT_LOGOUT_PATH = DEFAULTS['session.logoutPath']

export function parseSession(
  raw: RawSession | undefined,
  routes: readonly RouteConfig[],
  sidecarPath: string | undefined,
  baseDir: string,
  durationMs: (v: number | string | undefined, fallback: number) => number,
  problems: string[],
): SessionConfig {
  const r = raw ?? {}
  const config: SessionConfig = {
    loginPath: r.loginPath ?? DEFAULT_LOGIN_PATH,
    logoutPath: r.logoutPath ?? DEFAULT_LOGOUT_PATH,
    cookieName: r.cookie?.name ?? DEFAULTS['session.cookie.name'],
    ...(r.cookie?.domain !== undefined ? { cookieDomain: r.cookie.domain } : {}),
    idleTimeoutMs: durationMs(r.idleTimeout, defaultMs('session.idleTimeout')),
    lifetimeMs: durationMs(r.lifetime, defaultMs('session.lifetime')),
    ...(r.template !== undefined ? { template: resolve(baseDir, r.template) } : {}),
  }
  if (config.loginPath === config.logoutPath)
    problems.push(`session.logoutPath: ${config.logoutPath} is also session.loginPath`)
  for (const key of ['loginPath', 'logoutPath'] as const) {
    const path = config[key]
    routes.forEach((route, i) => {
      if (route.path === path) problems.push(`session.${key}: ${path} is also the path of routes[${i}]`)
    })
    if (sidecarPath === path) problems.push(`session.${key}: ${path} is also sidecar.path`)
  }
  if (config.idleTimeoutMs <= 0) problems.push('session.idleTimeout: expected more than 0')
  if (config.lifetimeMs <= 0) problems.push('session.lifetime: expected more than 0')
  routes.forEach((route, i) => {
    if (route.auth?.scheme.includes('form') && route.auth.proxy)
      problems.push(
        `routes[${i}].auth.proxy: form login cannot be proxy authentication (remove form from scheme or set proxy: false)`,
      )
  })
  return config
}
