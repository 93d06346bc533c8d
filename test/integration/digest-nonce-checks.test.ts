/**
 * The front checks the Digest nonce itself, not only the response: a nonce made by hand in the
 * documented format (src/auth/nonce.ts: issuedAt ‖ 12 random bytes ‖ HMAC tag, base64url) with
 * a correct response for it passes only when the tag is made with the configured secret and it
 * is younger than digest.nonceTtl. The client side is computed here with node:crypto alone
 * (test/helpers/digest-client.ts), and each refused request never reaches the upstream.
 */
import assert from 'node:assert/strict'
import { createHmac, randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { after, before, describe, test } from 'node:test'
import { request } from 'undici'
import { clientResponse } from '../helpers/digest-client.js'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js'

const ONE_USER = fileURLToPath(new URL('../fixtures/providers/one-user.ts', import.meta.url))
const SECRET = 'digest-nonce-checks secret, 32+ bytes'
const REALM = 'Nonces'

let gw: TestGateway
let echo: EchoUpstream
let cleanup: () => void

before(async () => {
  const tmp = tempDir()
  cleanup = tmp.cleanup
  echo = await startEchoUpstream()
  gw = await startGateway({
    throttle: { enabled: false },
    digest: { secret: SECRET, nonceTtl: '5m' },
    providers: { one: { type: 'module', module: ONE_USER, threads: 1 } },
    routes: [{ path: '/d', upstream: echo.url, auth: { scheme: ['digest'], realm: REALM, provider: 'one', algorithms: ['SHA-256'], cache: false } }],
  }, tmp.dir)
})

after(async () => {
  await gw?.close()
  await echo?.close()
  cleanup?.()
})

/** A nonce in gatehouse's format, tagged with HMAC(HMAC(secret, label), body ‖ realm) truncated to 16 bytes. */
function handMadeNonce(issuedAt: number, secret = SECRET): string {
  const body = Buffer.alloc(20)
  body.writeBigUInt64BE(BigInt(issuedAt), 0)
  randomBytes(12).copy(body, 8)
  const key = createHmac('sha256', secret).update('gatehouse digest nonce v1').digest()
  const tag = createHmac('sha256', key).update(body).update(REALM, 'utf8').digest().subarray(0, 16)
  return Buffer.concat([body, tag]).toString('base64url')
}

async function opaque(): Promise<string> {
  const res = await request(`${gw.url}/d/x`)
  await res.body.dump()
  const value = /opaque="([^"]+)"/.exec(String(res.headers['www-authenticate']))?.[1]
  assert.ok(value, 'the challenge carries an opaque')
  return value
}

async function login(nonce: string): Promise<{ status: number; challenge: string; reached: boolean }> {
  const seenBefore = echo.seen.length
  const cnonce = randomBytes(8).toString('hex')
  const response = clientResponse({ algorithm: 'SHA-256', username: 'alice', realm: REALM, password: 's3cret', method: 'GET', uri: '/d/x', nonce, nc: '00000001', cnonce, qop: 'auth' })
  const authorization = `Digest username="alice", realm="${REALM}", nonce="${nonce}", uri="/d/x", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="${cnonce}", response="${response}", opaque="${await opaque()}"`
  const res = await request(`${gw.url}/d/x`, { headers: { authorization } })
  await res.body.dump()
  return { status: res.statusCode, challenge: String(res.headers['www-authenticate'] ?? ''), reached: echo.seen.length > seenBefore }
}

describe('Digest nonce checks at the front', () => {
  test('a hand-made nonce tagged with the configured secret and issued now passes (the format above is right)', async () => {
    const r = await login(handMadeNonce(Date.now()))
    assert.equal(r.status, 200)
    assert.equal(r.reached, true)
  })

  test('a nonce tagged with another secret is refused with 401 and no stale flag, however right the response', async () => {
    const r = await login(handMadeNonce(Date.now(), 'another secret of at least 32 bytes'))
    assert.equal(r.status, 401)
    assert.doesNotMatch(r.challenge, /stale=true/)
    assert.equal(r.reached, false)
  })

  test('a nonce whose tag was altered in one character is refused with 401', async () => {
    const good = handMadeNonce(Date.now())
    const forged = good.slice(0, -1) + (good.endsWith('A') ? 'B' : 'A')
    const r = await login(forged)
    assert.equal(r.status, 401)
    assert.equal(r.reached, false)
  })

  test('an authentic nonce older than digest.nonceTtl is refused with 401 stale=true', async () => {
    const r = await login(handMadeNonce(Date.now() - 5 * 60_000 - 60_000))
    assert.equal(r.status, 401)
    assert.match(r.challenge, /stale=true/)
    assert.equal(r.reached, false)
  })

  test('an authentic nonce issued an hour in the future is refused with 401', async () => {
    const r = await login(handMadeNonce(Date.now() + 3_600_000))
    assert.equal(r.status, 401)
    assert.doesNotMatch(r.challenge, /stale=true/)
    assert.equal(r.reached, false)
  })
})
