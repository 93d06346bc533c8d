/**
 * Digest answers whose response hash is right but that break another rule get 401 and never
 * reach the upstream. The nonce: one made by hand in the documented format (src/auth/nonce.ts:
 * issuedAt ‖ 12 random bytes ‖ HMAC tag, base64url) passes only when tagged with the configured
 * secret and younger than digest.nonceTtl. The route's choices: an algorithm, qop or userhash
 * it does not offer, and an opaque not its own. And an unknown user whose response was computed
 * from the all-zero HA1 the front uses as its stand-in. The client side is computed with
 * node:crypto alone (test/helpers/digest-client.ts).
 */
import assert from 'node:assert/strict'
import { createHmac, randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { after, before, describe, test } from 'node:test'
import { request } from 'undici'
import { createHash } from 'node:crypto'
import { clientResponse, type ClientAlgorithm } from '../helpers/digest-client.js'
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
  gw = await startGateway(
    {
      throttle: { enabled: false },
      digest: { secret: SECRET, nonceTtl: '5m' },
      providers: { one: { type: 'module', module: ONE_USER, threads: 1 } },
      routes: [
        {
          path: '/d',
          upstream: echo.url,
          auth: { scheme: ['digest'], realm: REALM, provider: 'one', algorithms: ['SHA-256'], cache: false },
        },
      ],
    },
    tmp.dir,
  )
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

async function freshNonce(): Promise<string> {
  const res = await request(`${gw.url}/d/x`)
  await res.body.dump()
  const value = /nonce="([^"]+)"/.exec(String(res.headers['www-authenticate']))?.[1]
  assert.ok(value)
  return value
}

interface Variant {
  algorithm?: ClientAlgorithm
  qop?: 'auth' | 'auth-int' | null
  opaque?: string
  username?: string
  password?: string
  /** Sent as the username with userhash=true (computed from `username`). */
  userhash?: boolean
  /** The response from this HA1 instead of the password's. */
  ha1?: string
}

async function login(nonce: string, v: Variant = {}): Promise<{ status: number; challenge: string; reached: boolean }> {
  const seenBefore = echo.seen.length
  const cnonce = randomBytes(8).toString('hex')
  const algorithm = v.algorithm ?? 'SHA-256'
  const qop = v.qop === undefined ? 'auth' : (v.qop ?? undefined)
  const username = v.username ?? 'alice'
  const l = {
    algorithm,
    username,
    realm: REALM,
    password: v.password ?? 's3cret',
    method: 'GET',
    uri: '/d/x',
    nonce,
    qop,
    ...(qop ? { nc: '00000001', cnonce } : {}),
  }
  const response = v.ha1 === undefined ? clientResponse(l) : responseFromHA1(v.ha1, l)
  const user = v.userhash
    ? `username="${createHash('sha256').update(`${username}:${REALM}`).digest('hex')}", userhash=true`
    : `username="${username}"`
  const qopPart = qop ? `, qop=${qop}, nc=00000001, cnonce="${cnonce}"` : ''
  const authorization = `Digest ${user}, realm="${REALM}", nonce="${nonce}", uri="/d/x", algorithm=${algorithm}${qopPart}, response="${response}", opaque="${v.opaque ?? (await opaque())}"`
  const res = await request(`${gw.url}/d/x`, { headers: { authorization } })
  await res.body.dump()
  return {
    status: res.statusCode,
    challenge: String(res.headers['www-authenticate'] ?? ''),
    reached: echo.seen.length > seenBefore,
  }
}

/** RFC 7616 §3.4.1 from a given HA1 (SHA-256, qop=auth, GET with no body). */
function responseFromHA1(ha1: string, l: { nonce: string; nc?: string; cnonce?: string; uri: string }): string {
  const h = (s: string): string => createHash('sha256').update(s).digest('hex')
  return h(`${ha1}:${l.nonce}:${l.nc}:${l.cnonce}:auth:${h(`GET:${l.uri}`)}`)
}

describe('Digest answers the route does not accept', () => {
  test('the right password with MD5 on a route offering only SHA-256: 401', async () => {
    const r = await login(await freshNonce(), { algorithm: 'MD5' })
    assert.equal(r.status, 401)
    assert.equal(r.reached, false)
  })

  test('the right password in RFC 2069 form (no qop) on a route requiring qop=auth: 401', async () => {
    const r = await login(await freshNonce(), { qop: null })
    assert.equal(r.status, 401)
    assert.equal(r.reached, false)
  })

  test('the right password with qop=auth-int on a route offering only auth: 401', async () => {
    const r = await login(await freshNonce(), { qop: 'auth-int' })
    assert.equal(r.status, 401)
    assert.equal(r.reached, false)
  })

  test("an opaque that is not this realm's (well-formed, from another realm's challenge): 401", async () => {
    const other = createHmac('sha256', createHmac('sha256', SECRET).update('gatehouse digest opaque v1').digest())
      .update('Other')
      .digest('base64url')
    const r = await login(await freshNonce(), { opaque: other })
    assert.equal(r.status, 401)
    assert.equal(r.reached, false)
  })

  test('a hashed user name (userhash=true) on a route that does not offer userhash: 401', async () => {
    const r = await login(await freshNonce(), { userhash: true })
    assert.equal(r.status, 401)
    assert.equal(r.reached, false)
  })

  test('an unknown user whose response uses the all-zero stand-in HA1: 401, not a pass nor a 5xx', async () => {
    const r = await login(await freshNonce(), { username: 'nobody', ha1: '0'.repeat(64) })
    assert.equal(r.status, 401)
    assert.equal(r.reached, false)
  })

  test('the unchanged answer to a fresh challenge passes (the variants above differ only as named)', async () => {
    const r = await login(await freshNonce())
    assert.equal(r.status, 200)
    assert.equal(r.reached, true)
  })
})

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
