/**
 * Digest with an absolute-form `uri` on a real gateway (RFC 7616 §3.4.6): the authority must be
 * the request's Host (in the sidecar, the original host the proxy reports), else 400 and the app
 * never sees the request. Responses are computed here with node:crypto, not the server's code.
 */
import { test, before, after, describe } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js'
import { rawRequest, type RawResponse } from '../helpers/raw-request.js'

const ALLOW = fileURLToPath(new URL('../fixtures/providers/allow.ts', import.meta.url))
const md5 = (s: string) => createHash('md5').update(s, 'utf8').digest('hex')

let upstream: EchoUpstream
let gw: TestGateway
let cleanup: () => void

before(async () => {
  upstream = await startEchoUpstream()
  const t = tempDir('gh-digest-uri-')
  cleanup = t.cleanup
  gw = await startGateway(
    {
      // allow.ts knows every user with the password "secret".
      providers: { allow: { type: 'module', module: ALLOW } },
      trustedProxies: ['127.0.0.1'],
      sidecar: { path: '/auth' },
      digest: { secret: 'a-digest-uri-test-secret-0123' },
      routes: [
        {
          path: '/docs',
          upstream: upstream.url,
          auth: { scheme: 'digest', realm: 'Office', provider: 'allow', algorithms: ['MD5'] },
        },
      ],
    },
    t.dir,
  )
})

after(async () => {
  await gw?.close()
  await upstream?.close()
  cleanup?.()
})

/** nonce and opaque of the MD5 challenge in a 401. */
function challengeOf(r: RawResponse): { nonce: string; opaque: string } {
  assert.equal(r.status, 401)
  const value = (r.headers['www-authenticate'] ?? []).find((v) => v.startsWith('Digest ')) ?? ''
  const param = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(value)?.[1] ?? ''
  return { nonce: param('nonce'), opaque: param('opaque') }
}

/** RFC 7616 §3.4.1 with qop=auth and MD5, by hand. */
function authorization(c: { nonce: string; opaque: string }, method: string, uri: string): string {
  const cnonce = randomBytes(8).toString('hex')
  const nc = '00000001'
  const response = md5(`${md5('alice:Office:secret')}:${c.nonce}:${nc}:${cnonce}:auth:${md5(`${method}:${uri}`)}`)
  return `Digest username="alice", realm="Office", nonce="${c.nonce}", uri="${uri}", qop=auth, nc=${nc}, cnonce="${cnonce}", response="${response}", opaque="${c.opaque}", algorithm=MD5`
}

function front(target: string, host: string, credentials?: string): Promise<RawResponse> {
  const fields: Array<[string, string]> = [
    ['Host', host],
    ['Connection', 'close'],
  ]
  if (credentials !== undefined) fields.push(['Authorization', credentials])
  return rawRequest(gw.port, 'GET', target, fields)
}

describe('Digest uri in absolute form, through the front', () => {
  test('naming another host gets 400 and never reaches the upstream', async () => {
    const host = `127.0.0.1:${gw.port}`
    const c = challengeOf(await front('/docs/path', host))
    const before = upstream.seen.length
    const r = await front('/docs/path', host, authorization(c, 'GET', 'http://evil.example/docs/path'))
    assert.equal(r.status, 400)
    assert.match(r.body, /Digest uri does not match the request target/)
    assert.equal(upstream.seen.length, before)
  })

  test('naming the same host on another port gets 400', async () => {
    const host = `127.0.0.1:${gw.port}`
    const c = challengeOf(await front('/docs/path', host))
    const before = upstream.seen.length
    const r = await front('/docs/path', host, authorization(c, 'GET', `http://127.0.0.1:${gw.port + 1}/docs/path`))
    assert.equal(r.status, 400)
    assert.equal(upstream.seen.length, before)
  })

  test('naming this host and port is accepted, whatever the case of the host name', async () => {
    const host = `127.0.0.1:${gw.port}`
    let c = challengeOf(await front('/docs/path?q=1', host))
    const before = upstream.seen.length
    const r = await front('/docs/path?q=1', host, authorization(c, 'GET', `http://${host}/docs/path?q=1`))
    assert.equal(r.status, 200)
    assert.equal(upstream.seen[before]!.headers['x-remote-user'], 'alice')
    c = challengeOf(await front('/docs/path', `LocalHost:${gw.port}`))
    const named = await front(
      '/docs/path',
      `LocalHost:${gw.port}`,
      authorization(c, 'GET', `http://localhost:${gw.port}/docs/path`),
    )
    assert.equal(named.status, 200)
  })
})

describe('Digest uri in absolute form, through the sidecar', () => {
  /** A Traefik/Caddy-style sub-request from a trusted proxy at 127.0.0.1 about https://app.example/docs/x. */
  function ask(credentials?: string): Promise<RawResponse> {
    const fields: Array<[string, string]> = [
      ['Host', `127.0.0.1:${gw.port}`],
      ['Connection', 'close'],
      ['X-Forwarded-Method', 'GET'],
      ['X-Forwarded-Proto', 'https'],
      ['X-Forwarded-Host', 'app.example'],
      ['X-Forwarded-Uri', '/docs/x'],
    ]
    if (credentials !== undefined) fields.push(['Authorization', credentials])
    return rawRequest(gw.port, 'GET', '/auth', fields)
  }

  test('naming a host other than the original one gets 400', async () => {
    const c = challengeOf(await ask())
    const r = await ask(authorization(c, 'GET', 'https://evil.example/docs/x'))
    assert.equal(r.status, 400)
    assert.equal(r.headers['x-remote-user'], undefined)
  })

  test("naming the sidecar's own Host instead of the original host gets 400", async () => {
    const c = challengeOf(await ask())
    const r = await ask(authorization(c, 'GET', `https://127.0.0.1:${gw.port}/docs/x`))
    assert.equal(r.status, 400)
  })

  test('naming the original host is accepted', async () => {
    const c = challengeOf(await ask())
    const r = await ask(authorization(c, 'GET', 'https://app.example/docs/x'))
    assert.equal(r.status, 200)
    assert.deepEqual(r.headers['x-remote-user'], ['alice'])
  })
})
