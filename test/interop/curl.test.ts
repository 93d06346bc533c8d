/**
 * Interoperability with the real `curl` binary: Basic (`--basic -u`), Digest
 * (`--digest -u`, SHA-256 and MD5), UTF-8 names, passwords with ':', 401 challenges for wrong
 * credentials and 403 for a valid user outside the required group. Loopback only.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { CURL, curl, curlVersion } from './helpers/curl.js'
import { skipUnless } from './helpers/run.js'
import { REALM, standardProviders, startStack, users, writeStandardUsers, type InteropStack } from './helpers/stack.js'

const skip = skipUnless(CURL, 'curl', 'curl')
const basicChallenge = `Basic realm="${REALM}", charset="UTF-8"`
const requests = (sent: string[]) => sent.filter((l) => /^GET /.test(l)).length

describe('curl', { skip }, () => {
  let stack: InteropStack
  const url = (path: string) => `${stack.gw.url}${path}`

  before(async () => {
    stack = await startStack(({ dir, upstream }) => {
      writeStandardUsers(dir)
      const digest = (extra: Record<string, unknown>) => ({
        scheme: 'digest',
        realm: REALM,
        provider: 'local',
        passAuthorization: true,
        ...extra,
      })
      return {
        providers: standardProviders,
        routes: [
          { path: '/basic', upstream, auth: { scheme: 'basic', realm: REALM, provider: ['office', 'local'] } },
          { path: '/digest', upstream, auth: digest({ scheme: ['digest', 'basic'] }) },
          { path: '/digest-sha256', upstream, auth: digest({ md5: false }) },
          { path: '/digest-md5', upstream, auth: digest({ algorithms: ['MD5'] }) },
          {
            path: '/staff',
            upstream,
            auth: { scheme: ['digest', 'basic'], realm: REALM, provider: 'local', require: { groups: ['staff'] } },
          },
        ],
      }
    })
  })

  after(async () => {
    await stack?.close()
  })

  test('curl is recent enough for Digest SHA-256 (7.57+)', async () => {
    const [major, minor] = await curlVersion()
    assert.ok(major > 7 || (major === 7 && minor >= 57), `curl ${major}.${minor}`)
  })

  describe('Basic', () => {
    test('--basic with a password containing colons reaches the upstream as alice, without Authorization', async () => {
      const r = await curl(url('/basic/hello?x=1'), ['--basic', '-u', `${users.alice.name}:${users.alice.password}`])
      assert.equal(r.status, 200)
      const seen = JSON.parse(r.body)
      assert.equal(seen.url, '/basic/hello?x=1')
      assert.equal(seen.headers['x-remote-user'], 'alice')
      assert.equal(seen.headers.authorization, undefined)
      assert.equal(requests(r.sent), 1)
    })

    test('--basic with a UTF-8 user name and password authenticates café (identity percent-encoded)', async () => {
      const r = await curl(url('/basic/'), ['--basic', '-u', `${users.cafe.name}:${users.cafe.password}`])
      assert.equal(r.status, 200)
      assert.equal(JSON.parse(r.body).headers['x-remote-user'], 'caf%C3%A9')
    })

    test('a user from the second provider of the chain passes with its groups', async () => {
      const r = await curl(url('/basic/'), ['--basic', '-u', `${users.dave.name}:${users.dave.password}`])
      assert.equal(r.status, 200)
      const seen = JSON.parse(r.body)
      assert.equal(seen.headers['x-remote-user'], 'dave')
      assert.equal(seen.headers['x-remote-groups'], 'staff')
    })

    test('a wrong password gets 401 with the Basic challenge and never reaches the upstream', async () => {
      const before = stack.upstream.seen.length
      const r = await curl(url('/basic/'), ['--basic', '-u', `${users.alice.name}:wonder`])
      assert.equal(r.status, 401)
      assert.deepEqual(r.headers['www-authenticate'], [basicChallenge])
      assert.equal(stack.upstream.seen.length, before)
    })

    test('an unknown user gets the same 401 as a wrong password', async () => {
      const wrong = await curl(url('/basic/'), ['--basic', '-u', 'alice:nope'])
      const unknown = await curl(url('/basic/'), ['--basic', '-u', 'mallory:nope'])
      assert.equal(unknown.status, 401)
      assert.deepEqual(unknown.headers['www-authenticate'], wrong.headers['www-authenticate'])
      assert.equal(unknown.body, wrong.body)
    })

    test('the UTF-8 name with a wrong password gets 401', async () => {
      const r = await curl(url('/basic/'), ['--basic', '-u', `${users.cafe.name}:creme brulee`])
      assert.equal(r.status, 401)
    })
  })

  describe('Digest', () => {
    test('--digest on a Digest+Basic route authenticates with SHA-256, the first challenge, in two round trips', async () => {
      const r = await curl(url('/digest/page'), ['--digest', '-u', `${users.dave.name}:${users.dave.password}`])
      assert.equal(r.status, 200)
      assert.equal(requests(r.sent), 2, 'one 401 challenge, then the authenticated request')
      const seen = JSON.parse(r.body)
      assert.equal(seen.headers['x-remote-user'], 'dave')
      assert.match(String(seen.headers.authorization), /^Digest .*algorithm="?SHA-256"?/)
      assert.match(String(seen.headers.authorization), /username="dave"/)
      assert.match(String(r.headers['authentication-info']), /rspauth="[0-9a-f]{64}"/)
    })

    test('--digest on a route with md5: false authenticates with SHA-256', async () => {
      const challenge = await curl(url('/digest-sha256/'))
      assert.equal(challenge.status, 401)
      assert.equal(challenge.headers['www-authenticate']?.length, 1)
      assert.match(challenge.headers['www-authenticate']![0]!, /^Digest realm="Office", .*algorithm=SHA-256/)
      const r = await curl(url('/digest-sha256/'), ['--digest', '-u', `${users.erin.name}:${users.erin.password}`])
      assert.equal(r.status, 200)
      const seen = JSON.parse(r.body)
      assert.equal(seen.headers['x-remote-user'], 'erin')
      assert.match(String(seen.headers.authorization), /algorithm="?SHA-256"?/)
    })

    test('--digest on an MD5-only route authenticates with MD5', async () => {
      const r = await curl(url('/digest-md5/'), ['--digest', '-u', `${users.dave.name}:${users.dave.password}`])
      assert.equal(r.status, 200)
      const seen = JSON.parse(r.body)
      assert.equal(seen.headers['x-remote-user'], 'dave')
      assert.match(String(seen.headers.authorization), /algorithm="?MD5"?/)
      assert.match(String(r.headers['authentication-info']), /rspauth="[0-9a-f]{32}"/)
    })

    test('--digest with a wrong password ends in 401 with fresh challenges, not stale', async () => {
      const r = await curl(url('/digest/'), ['--digest', '-u', `${users.dave.name}:wrong`])
      assert.equal(r.status, 401)
      const challenges = r.headers['www-authenticate'] ?? []
      assert.equal(challenges.length, 3)
      assert.match(challenges[0]!, /^Digest realm="Office", .*algorithm=SHA-256/)
      assert.match(challenges[1]!, /^Digest realm="Office", .*algorithm=MD5/)
      assert.equal(challenges[2], basicChallenge)
      assert.ok(!challenges.some((c) => c.includes('stale=true')))
    })

    test('--digest for a user the provider does not know ends in 401', async () => {
      const r = await curl(url('/digest-sha256/'), ['--digest', '-u', 'mallory:x'])
      assert.equal(r.status, 401)
      assert.equal(r.headers['www-authenticate']?.length, 1)
    })
  })

  describe('authorization', () => {
    test('a user in the required group passes with --digest and with --basic', async () => {
      for (const mode of ['--digest', '--basic']) {
        const r = await curl(url('/staff/'), [mode, '-u', `${users.dave.name}:${users.dave.password}`])
        assert.equal(r.status, 200, mode)
        assert.equal(JSON.parse(r.body).headers['x-remote-groups'], 'staff')
      }
    })

    test('a valid user outside the required group gets 403 without a challenge, with --digest and with --basic', async () => {
      const before = stack.upstream.seen.length
      for (const mode of ['--digest', '--basic']) {
        const r = await curl(url('/staff/'), [mode, '-u', `${users.erin.name}:${users.erin.password}`])
        assert.equal(r.status, 403, mode)
        assert.equal(r.headers['www-authenticate'], undefined, mode)
      }
      assert.equal(stack.upstream.seen.length, before)
    })

    test('a wrong password on the group route is 401, not 403', async () => {
      const r = await curl(url('/staff/'), ['--basic', '-u', `${users.erin.name}:nope`])
      assert.equal(r.status, 401)
    })
  })
})
