/**
 * Fault injection through a real gateway: providers that hang, throw, return garbage or kill
 * their thread. Each fails closed (5xx, never a pass, never a 401), leaves a clear log line
 * without the password, does not stall other routes, and recovers on its own where it can.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js'

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/providers/${name}.ts`, import.meta.url))
const basic = (u: string, p: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` })
const PASSWORD = 'Pa55-never-logged'

let gw: TestGateway
let echo: EchoUpstream
let cleanup: () => void

before(async () => {
  const tmp = tempDir()
  cleanup = tmp.cleanup
  echo = await startEchoUpstream()
  const route = (path: string, provider: string | string[]) => ({
    path,
    upstream: echo.url,
    auth: { realm: 'Faults', provider, cache: false },
  })
  gw = await startGateway(
    {
      throttle: { enabled: false },
      providers: {
        // The four hanging logins run one after another (concurrency 1): three abandoned calls replace the thread.
        hangs: { type: 'module', module: fixture('hangs'), timeout: '300ms', queueTimeout: '5s', threads: 1 },
        throws: { type: 'module', module: fixture('throws'), threads: 1 },
        garbage: { type: 'module', module: fixture('garbage'), threads: 1 },
        exits: { type: 'module', module: fixture('exits'), threads: 1 },
        good: { type: 'module', module: fixture('one-user'), threads: 1 },
      },
      routes: [
        route('/hangs', 'hangs'),
        route('/throws', 'throws'),
        route('/garbage', 'garbage'),
        route('/exits', 'exits'),
        route('/good', 'good'),
        route('/chain', ['throws', 'good']),
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

const get = (path: string, user: string, password = PASSWORD) =>
  fetch(`${gw.url}${path}`, { headers: basic(user, password) })

function assertNoSecrets(): void {
  assert.ok(
    !gw.logs.some((l) => l.includes(PASSWORD) || l.includes(Buffer.from(`alice:${PASSWORD}`).toString('base64'))),
    'no password or header in any log line',
  )
}

describe('faulty providers fail closed and recover', () => {
  test('a provider that hangs: 503 with Retry-After after its timeout, other routes keep answering meanwhile', async () => {
    const seen = echo.seen.length
    const hanging = Array.from({ length: 4 }, () => get('/hangs/x', 'alice'))
    const other = await get('/good/x', 'alice', 's3cret')
    assert.equal(other.status, 200, 'the front is not stalled by the hanging provider')
    for (const res of await Promise.all(hanging)) {
      assert.equal(res.status, 503)
      assert.equal(res.headers.get('retry-after'), '5')
      assert.equal(res.headers.get('www-authenticate'), null)
    }
    assert.equal(echo.seen.length, seen + 1)
    assert.ok(gw.logs.some((l) => l.includes('authentication failed closed') && l.includes('GH_ERR_PROVIDER_TIMEOUT')))
    assert.ok(
      gw.logs.some((l) => l.includes('too many calls past their timeout; replacing it')),
      'the stuck thread is replaced',
    )
    assertNoSecrets()
  })

  test('a provider that throws: 500 with a coded log line naming the error class only', async () => {
    const res = await get('/throws/x', 'alice')
    assert.equal(res.status, 500)
    assert.equal(await res.text(), 'Internal Server Error\n')
    assert.ok(gw.logs.some((l) => l.includes('GH_ERR_PROVIDER_FAILED') && !l.includes('user database is down')))
    assertNoSecrets()
  })

  test('a throwing provider ends its chain: the next provider cannot turn it into a pass', async () => {
    const seen = echo.seen.length
    assert.equal((await get('/chain/x', 'alice', 's3cret')).status, 500)
    assert.equal(echo.seen.length, seen)
  })

  test('a provider returning garbage (numbers, objects, functions, empty names): 500 GH_ERR_PROVIDER_BAD_RESULT, never a pass', async () => {
    const seen = echo.seen.length
    for (const user of ['number', 'empty', 'object', 'undef', 'fn']) {
      const res = await get('/garbage/x', user)
      assert.equal(res.status, 500, user)
    }
    assert.equal(echo.seen.length, seen)
    assert.ok(gw.logs.some((l) => l.includes('GH_ERR_PROVIDER_BAD_RESULT')))
  })

  test('a provider that kills its thread: 503, a log line, and the thread is restarted so the next login passes', async () => {
    const res = await get('/exits/x', 'crash')
    assert.equal(res.status, 503)
    assert.equal(res.headers.get('retry-after'), '5')
    let status = 0
    for (let i = 0; i < 100 && status !== 200; i++) {
      status = (await get('/exits/x', 'someone')).status
      if (status !== 200) await new Promise((r) => setTimeout(r, 50))
    }
    assert.equal(status, 200)
    assert.ok(gw.logs.some((l) => l.includes('provider thread exited; restarting')))
  })
})
