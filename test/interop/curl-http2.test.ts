/**
 * Interoperability with the real `curl` over HTTP/2 (`--http2`, ALPN h2 on the TLS listener,
 * a self-signed certificate made by openssl): the 401 challenge, then Basic and Digest through
 * to an upstream and a daemon group, an upload of unknown length (`-T -`), and the header
 * hygiene the targets see (no pseudo-header fields, Host from :authority, client identity
 * headers stripped). curl reports the HTTP version it spoke (`%{http_version}`).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CURL } from './helpers/curl.js'
import { run, skipOrFail, skipUnless } from './helpers/run.js'
import { REALM, standardProviders, startStack, users, writeStandardUsers, type InteropStack } from './helpers/stack.js'
import { haveOpenssl, makeCertificate } from '../helpers/tls-cert.js'

const APP = fileURLToPath(new URL('../fixtures/apps/h2-echo.ts', import.meta.url))
const skip =
  skipUnless(CURL, 'curl', 'curl') || (haveOpenssl ? false : skipOrFail('openssl not found (Debian package openssl)'))

interface Result {
  status: number
  httpVersion: string
  headers: Record<string, string[]>
  body: string
}

describe('curl --http2', { skip }, () => {
  let stack: InteropStack
  let cert: string
  let authority: string

  before(async () => {
    const features = await run(CURL, ['-V'], { timeoutMs: 5_000 })
    if (!/^Features:.*\bHTTP2\b/m.test(features.stdout))
      throw new Error(`this curl has no HTTP2 feature:\n${features.stdout}`)
    stack = await startStack(({ dir, upstream }) => {
      writeStandardUsers(dir)
      const files = makeCertificate(dir, 'front', 7007)
      cert = files.cert
      return {
        listen: { host: '127.0.0.1', port: 0, http2: true, tls: files },
        providers: standardProviders,
        groups: { echo: { app: APP, processes: 1 } },
        routes: [
          { path: '/basic', upstream, auth: { scheme: 'basic', realm: REALM, provider: ['office', 'local'] } },
          { path: '/digest', upstream, auth: { scheme: 'digest', realm: REALM, provider: 'local' } },
          { path: '/grp', group: 'echo', auth: { scheme: ['digest', 'basic'], realm: REALM, provider: 'local' } },
        ],
      }
    })
    authority = `127.0.0.1:${stack.gw.port}`
  })

  after(async () => {
    await stack?.close()
  })

  /** `args` go before the URL. */
  async function curl2(path: string, args: readonly string[] = [], input?: string): Promise<Result> {
    const dir = mkdtempSync(join(tmpdir(), 'gh-curl2-'))
    try {
      const bodyFile = join(dir, 'body')
      const r = await run(
        CURL,
        [
          '-sS',
          '--http2',
          '--cacert',
          cert,
          '--noproxy',
          '*',
          '--max-time',
          '10',
          '-o',
          bodyFile,
          '-w',
          '%{http_code}\\n%{http_version}\\n%{header_json}',
          ...args,
          `https://${authority}${path}`,
        ],
        { timeoutMs: 15_000, ...(input !== undefined ? { input } : {}) },
      )
      assert.equal(r.code, 0, r.stderr)
      const [status, httpVersion, ...json] = r.stdout.split('\n')
      let body = ''
      try {
        body = readFileSync(bodyFile, 'utf8')
      } catch {
        body = ''
      }
      return {
        status: Number(status),
        httpVersion: httpVersion!,
        headers: JSON.parse(json.join('\n') || '{}') as Record<string, string[]>,
        body,
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }

  const pseudo = (headers: Record<string, unknown>): string[] => Object.keys(headers).filter((k) => k.startsWith(':'))

  test('without credentials: 401 over HTTP/2 with the exact Basic challenge, and the upstream never sees it', async () => {
    const before = stack.upstream.seen.length
    const r = await curl2('/basic/page')
    assert.equal(r.httpVersion, '2')
    assert.equal(r.status, 401)
    assert.deepEqual(r.headers['www-authenticate'], [`Basic realm="${REALM}", charset="UTF-8"`])
    assert.equal(r.headers.connection, undefined)
    assert.equal(stack.upstream.seen.length, before)
  })

  test('--basic over HTTP/2 reaches the upstream as alice: no Authorization, no pseudo-header fields, X-Forwarded-Host from :authority', async () => {
    const r = await curl2('/basic/page?q=1', [
      '--basic',
      '-u',
      `${users.alice.name}:${users.alice.password}`,
      '-H',
      'X-Remote-User: root',
      '-H',
      'Remote-User: root',
    ])
    assert.equal(r.httpVersion, '2')
    assert.equal(r.status, 200)
    const seen = JSON.parse(r.body)
    assert.equal(seen.url, '/basic/page?q=1')
    assert.equal(seen.headers['x-remote-user'], 'alice')
    assert.equal(seen.headers['remote-user'], undefined)
    assert.equal(seen.headers.authorization, undefined)
    assert.deepEqual(pseudo(seen.headers), [])
    assert.equal(seen.headers['x-forwarded-host'], authority)
    assert.equal(seen.headers['x-forwarded-proto'], 'https')
  })

  test('--digest over HTTP/2 authenticates dave through to the upstream', async () => {
    const r = await curl2('/digest/x', ['--digest', '-u', `${users.dave.name}:${users.dave.password}`])
    assert.equal(r.httpVersion, '2')
    assert.equal(r.status, 200)
    assert.equal(JSON.parse(r.body).headers['x-remote-user'], 'dave')
  })

  test('through a daemon group over HTTP/2: 401 first, then the app sees dave with Host from :authority', async () => {
    const denied = await curl2('/grp/page')
    assert.equal(denied.status, 401)
    assert.equal(denied.headers['www-authenticate']!.at(-1), `Basic realm="${REALM}", charset="UTF-8"`)
    const r = await curl2('/grp/page', [
      '--basic',
      '-u',
      `${users.dave.name}:${users.dave.password}`,
      '-H',
      'X-Remote-Groups: admin',
    ])
    assert.equal(r.httpVersion, '2')
    assert.equal(r.status, 200)
    const seen = JSON.parse(r.body)
    assert.equal(seen.app, 'group')
    assert.equal(seen.headers['x-remote-user'], 'dave')
    assert.equal(seen.headers['x-remote-groups'], 'staff')
    assert.equal(seen.headers.host, authority)
    assert.deepEqual(pseudo(seen.headers), [])
  })

  test('an upload of unknown length (-T -) over HTTP/2 reaches the daemon group intact', async () => {
    const data = 'line of an upload whose length curl does not know\n'.repeat(2000)
    const r = await curl2(
      '/grp/upload',
      ['--basic', '-u', `${users.dave.name}:${users.dave.password}`, '-T', '-'],
      data,
    )
    assert.equal(r.httpVersion, '2')
    assert.equal(r.status, 200)
    const seen = JSON.parse(r.body)
    assert.equal(seen.method, 'PUT')
    assert.equal(seen.headers['content-length'], undefined)
    assert.equal(seen.bodyBytes, Buffer.byteLength(data))
    assert.equal(seen.bodySha256, createHash('sha256').update(data).digest('hex'))
  })

  test('--http1.1 on the same listener is still served', async () => {
    const r = await curl2('/basic/h1', ['--http1.1', '--basic', '-u', `${users.alice.name}:${users.alice.password}`])
    assert.equal(r.httpVersion, '1.1')
    assert.equal(r.status, 200)
  })
})
