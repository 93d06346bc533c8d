/**
 * Interoperability with Python requests (Debian's /usr/bin/python3): HTTPBasicAuth and
 * HTTPDigestAuth. requests merges all WWW-Authenticate headers into one and its parser keeps the
 * last value of each parameter, so on a route offering SHA-256 first and MD5 last it answers the
 * MD5 challenge: that ordering is what lets it in. A Session reuses the nonce with nc 1, 2, 3...
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { runPythonJson, skipUnlessPython } from './helpers/python.js'
import { REALM, standardProviders, startStack, users, writeStandardUsers, type InteropStack } from './helpers/stack.js'

interface ClientResult {
  status: number
  history: number[]
  seen: { url: string; headers: Record<string, string | undefined> } | null
  sentScheme: string | null
  sentDigest: {
    username: string
    realm: string
    algorithm: string
    nc: string
    nonce: string
    qop: string
    uri: string
  } | null
  authenticationInfo: string | null
  wwwAuthenticate: string | null
}
interface ClientOutput {
  requests: string
  results: ClientResult[]
}
interface ClientArgs {
  urls: string[]
  auth: 'basic' | 'digest' | 'none'
  user?: string
  password?: string
  utf8?: boolean
}

const skip = skipUnlessPython(['requests'], 'python3 python3-requests')
const client = (args: ClientArgs) => runPythonJson<ClientOutput>('client.py', args)

describe('python requests', { skip }, () => {
  let stack: InteropStack
  const url = (path: string) => `${stack.gw.url}${path}`

  before(async () => {
    stack = await startStack(({ dir, upstream }) => {
      writeStandardUsers(dir)
      return {
        providers: standardProviders,
        routes: [
          { path: '/basic', upstream, auth: { scheme: 'basic', realm: REALM, provider: ['office', 'local'] } },
          { path: '/mixed', upstream, auth: { scheme: ['digest', 'basic'], realm: REALM, provider: 'local' } },
          { path: '/sha256', upstream, auth: { scheme: 'digest', realm: REALM, provider: 'local', md5: false } },
        ],
      }
    })
  })

  after(async () => {
    await stack?.close()
  })

  describe('HTTPBasicAuth', () => {
    test('sends credentials up front and reaches the upstream as alice (password with colons)', async () => {
      const { results } = await client({
        urls: [url('/basic/a?b=c')],
        auth: 'basic',
        user: users.alice.name,
        password: users.alice.password,
      })
      const [r] = results
      assert.equal(r?.status, 200)
      assert.deepEqual(r?.history, [])
      assert.equal(r?.seen?.url, '/basic/a?b=c')
      assert.equal(r?.seen?.headers['x-remote-user'], 'alice')
      assert.equal(r?.seen?.headers.authorization, undefined)
    })

    test('a UTF-8 user name passed as UTF-8 bytes authenticates café', async () => {
      const { results } = await client({
        urls: [url('/basic/')],
        auth: 'basic',
        user: users.cafe.name,
        password: users.cafe.password,
        utf8: true,
      })
      assert.equal(results[0]?.status, 200)
      assert.equal(results[0]?.seen?.headers['x-remote-user'], 'caf%C3%A9')
    })

    test('a str user name, which requests encodes as latin-1, is not valid UTF-8 and gets 400', async () => {
      const { results } = await client({
        urls: [url('/basic/')],
        auth: 'basic',
        user: users.cafe.name,
        password: users.cafe.password,
      })
      assert.equal(results[0]?.status, 400)
    })

    test('a wrong password gets 401 with the Basic challenge', async () => {
      const { results } = await client({
        urls: [url('/basic/')],
        auth: 'basic',
        user: users.alice.name,
        password: 'wonder',
      })
      assert.equal(results[0]?.status, 401)
      assert.equal(results[0]?.wwwAuthenticate, `Basic realm="${REALM}", charset="UTF-8"`)
    })
  })

  describe('HTTPDigestAuth', () => {
    test('authenticates on a route offering SHA-256 first and MD5 last, answering the MD5 challenge', async () => {
      const { results } = await client({
        urls: [url('/mixed/page?x=1')],
        auth: 'digest',
        user: users.dave.name,
        password: users.dave.password,
      })
      const [r] = results
      assert.equal(r?.status, 200)
      assert.deepEqual(r?.history, [401])
      assert.equal(r?.seen?.headers['x-remote-user'], 'dave')
      assert.equal(r?.seen?.headers['x-remote-groups'], 'staff')
      assert.equal(r?.sentScheme, 'Digest')
      assert.equal(r?.sentDigest?.algorithm, 'MD5')
      assert.equal(r?.sentDigest?.realm, REALM)
      assert.equal(r?.sentDigest?.uri, '/mixed/page?x=1')
      assert.match(String(r?.authenticationInfo), /rspauth="[0-9a-f]{32}"/)
    })

    test('sequential requests on one Session reuse the nonce with nc 1..4 and only the first gets a 401', async () => {
      const paths = ['/mixed/1', '/mixed/2', '/mixed/3', '/mixed/4']
      const { results } = await client({
        urls: paths.map(url),
        auth: 'digest',
        user: users.dave.name,
        password: users.dave.password,
      })
      assert.deepEqual(
        results.map((r) => r.status),
        [200, 200, 200, 200],
      )
      assert.deepEqual(
        results.map((r) => r.history.length),
        [1, 0, 0, 0],
      )
      assert.deepEqual(
        results.map((r) => r.sentDigest?.nc),
        ['00000001', '00000002', '00000003', '00000004'],
      )
      const nonces = new Set(results.map((r) => r.sentDigest?.nonce))
      assert.equal(nonces.size, 1, 'one nonce for the whole session')
      assert.deepEqual(
        results.map((r) => r.seen?.url),
        paths,
      )
    })

    test('authenticates with SHA-256 on a route with md5: false', async () => {
      const { results } = await client({
        urls: [url('/sha256/'), url('/sha256/again')],
        auth: 'digest',
        user: users.erin.name,
        password: users.erin.password,
      })
      assert.deepEqual(
        results.map((r) => r.status),
        [200, 200],
      )
      assert.deepEqual(
        results.map((r) => r.history.length),
        [1, 0],
      )
      assert.equal(results[0]?.sentDigest?.algorithm, 'SHA-256')
      assert.equal(results[0]?.seen?.headers['x-remote-user'], 'erin')
      assert.match(String(results[0]?.authenticationInfo), /rspauth="[0-9a-f]{64}"/)
    })

    test("a wrong password ends in 401 after requests' one retry", async () => {
      const { results } = await client({
        urls: [url('/mixed/')],
        auth: 'digest',
        user: users.dave.name,
        password: 'nope',
      })
      assert.equal(results[0]?.status, 401)
      assert.deepEqual(results[0]?.history, [401])
      assert.match(String(results[0]?.wwwAuthenticate), /^Digest realm="Office", /)
      assert.doesNotMatch(String(results[0]?.wwwAuthenticate), /stale=true/)
    })

    test('without credentials the route answers 401 and the upstream sees nothing', async () => {
      const before = stack.upstream.seen.length
      const { results } = await client({ urls: [url('/mixed/')], auth: 'none' })
      assert.equal(results[0]?.status, 401)
      assert.equal(stack.upstream.seen.length, before)
    })
  })
})
