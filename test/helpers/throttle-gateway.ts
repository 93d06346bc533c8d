/**
 * A real gateway with a login throttle in front of test/fixtures/providers/counting-file.ts, whose
 * calls are counted in a file, and a client that connects from a chosen loopback address
 * (127.0.0.x) and may name a client behind the trusted proxy 127.0.0.1 in X-Forwarded-For.
 */
import { request } from 'node:http'
import { statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startEchoUpstream, type EchoUpstream } from './echo-upstream.js'
import { startGateway, tempDir, type TestGateway } from './gateway.js'

const PROVIDER = fileURLToPath(new URL('../fixtures/providers/counting-file.ts', import.meta.url))

export interface Res {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

export interface ThrottledGateway {
  gw: TestGateway
  echo: EchoUpstream
  /** Password checks the provider has received so far. */
  calls(): number
}

/**
 * Routes: /app (Basic, credential cache on), /digest (Digest MD5, realm App), /fresh (the same realm and provider, no cache: every
 * request asks the provider), /fresh-read (as /fresh, but only alice may use a method other than GET). 127.0.0.1 is a trusted proxy. `extra`: more top-level configuration (a sidecar).
 */
export async function startThrottled(
  t: { after: (fn: () => Promise<void> | void) => void },
  throttle: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Promise<ThrottledGateway> {
  const { dir, cleanup } = tempDir()
  const countFile = join(dir, 'calls')
  writeFileSync(countFile, '')
  const echo = await startEchoUpstream()
  const gw = await startGateway(
    {
      throttle,
      trustedProxies: ['127.0.0.1'],
      providers: { users: { type: 'module', module: PROVIDER, file: countFile, threads: 2, concurrency: 64 } },
      routes: [
        { path: '/app', upstream: echo.url, auth: { realm: 'App', provider: 'users' } },
        { path: '/fresh', upstream: echo.url, auth: { realm: 'App', provider: 'users', cache: false } },
        {
          path: '/digest',
          upstream: echo.url,
          auth: { scheme: 'digest', realm: 'App', provider: 'users', algorithms: ['MD5'] },
        },
        {
          path: '/fresh-read',
          upstream: echo.url,
          auth: {
            realm: 'App',
            provider: 'users',
            cache: false,
            limitExcept: { methods: ['GET'], require: { users: ['alice'] } },
          },
        },
      ],
      ...extra,
    },
    dir,
  )
  t.after(async () => {
    await gw.close()
    await echo.close()
    cleanup()
  })
  return { gw, echo, calls: () => statSync(countFile).size }
}

export interface GetOptions {
  /** The local address the connection comes from (default 127.0.0.1). */
  from?: string
  /** X-Forwarded-For, honoured when `from` is the trusted proxy 127.0.0.1. */
  xff?: string
  user?: string
  password?: string
  /** More request headers (a sidecar's X-Original-URI). */
  headers?: Record<string, string>
}

/** One GET on its own connection; rejects if no answer comes within 30 s. */
export function get(gw: TestGateway, path: string, opts: GetOptions = {}): Promise<Res> {
  const headers: Record<string, string> = { ...opts.headers }
  if (opts.user !== undefined)
    headers.authorization = `Basic ${Buffer.from(`${opts.user}:${opts.password ?? ''}`).toString('base64')}`
  if (opts.xff !== undefined) headers['x-forwarded-for'] = opts.xff
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: gw.port,
        path,
        headers,
        localAddress: opts.from ?? '127.0.0.1',
        agent: false,
        timeout: 30_000,
      },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => {
          body += c
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      },
    )
    req.on('timeout', () => req.destroy(new Error(`no answer to ${path} within 30 s`)))
    req.on('error', reject)
    req.end()
  })
}

/** How many answers had each status, e.g. { 401: 20, 429: 980 }. */
export function tally(results: readonly Res[]): Record<number, number> {
  const out: Record<number, number> = {}
  for (const r of results) out[r.status] = (out[r.status] ?? 0) + 1
  return out
}
