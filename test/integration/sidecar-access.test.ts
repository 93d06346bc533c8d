/**
 * Host-based access (a provider's allowAccess) holds in sidecar mode too: a provider that says
 * no ends the sub-request with 403 before any credentials are checked, even when a later
 * provider of the chain would accept them.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js'

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/providers/${name}.ts`, import.meta.url))
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`

let gw: TestGateway
let cleanup: () => void

before(async () => {
  const t = tempDir('gh-sidecar-access-')
  cleanup = t.cleanup
  gw = await startGateway({
    // deny: knows nobody and refuses every host; allow: accepts every user.
    providers: { deny: { type: 'module', module: fixture('deny'), threads: 1 }, allow: { type: 'module', module: fixture('allow'), threads: 1 } },
    trustedProxies: ['127.0.0.1'],
    sidecar: { path: '/auth' },
    routes: [
      { path: '/open', auth: { scheme: 'basic', realm: 'R', provider: ['allow'], cache: false } },
      { path: '/closed', auth: { scheme: 'basic', realm: 'R', provider: ['deny', 'allow'], cache: false } },
    ],
  }, t.dir)
})

after(async () => {
  await gw?.close()
  cleanup?.()
})

async function ask(uri: string): Promise<{ status: number; user: unknown }> {
  const res = await request(`${gw.url}/auth`, { headers: { 'x-original-uri': uri, authorization: basic('carol', 'anything') } })
  await res.body.dump()
  return { status: res.statusCode, user: res.headers['x-remote-user'] }
}

describe('sidecar host-based access', () => {
  test('a chain whose provider refuses access answers 403 even though a later provider accepts the login', async () => {
    assert.deepEqual(await ask('/open/x'), { status: 200, user: 'carol' })
    assert.deepEqual(await ask('/closed/x'), { status: 403, user: undefined })
  })
})
