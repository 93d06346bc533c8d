/** HTTPS on the front: listen.tls with a certificate made by openssl for the test. */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { Agent, request } from 'undici'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'
import { startGateway, tempDir, writeFile, type TestGateway } from '../helpers/gateway.js'
import { UserStore } from '../../providers/sqlite/store.js'
import { needs } from '../helpers/required-tool.js'

let upstream: EchoUpstream
let gw: TestGateway | undefined
let cleanup: () => void
let cert: Buffer

const haveOpenssl = spawnSync('openssl', ['version']).status === 0

before(async () => {
  if (!haveOpenssl) return
  upstream = await startEchoUpstream()
  const t = tempDir('gh-tls-')
  cleanup = t.cleanup
  const r = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      `${t.dir}/key.pem`,
      '-out',
      `${t.dir}/cert.pem`,
    ],
    { encoding: 'utf8' },
  )
  assert.equal(r.status, 0, r.stderr)
  cert = readFileSync(`${t.dir}/cert.pem`)
  const store = UserStore.open(`${t.dir}/u.sqlite`, { create: true, bcryptCost: 4 })
  store.addUser('tess', 'tls-pw')
  store.close()
  writeFile(t.dir, 'placeholder', '')
  gw = await startGateway(
    {
      listen: { host: '127.0.0.1', port: 0, tls: { cert: './cert.pem', key: './key.pem' } },
      providers: { local: { type: 'sqlite', database: './u.sqlite' } },
      routes: [{ path: '/s', upstream: upstream.url, auth: { scheme: 'basic', realm: 'TLS', provider: 'local' } }],
    },
    t.dir,
  )
})

after(async () => {
  await gw?.close()
  await upstream?.close()
  cleanup?.()
})

test(
  'the front serves HTTPS and tells the upstream X-Forwarded-Proto: https',
  { skip: needs(haveOpenssl, 'openssl is not installed (apt install openssl)') },
  async () => {
    const url = gw!.url.replace('http:', 'https:')
    const dispatcher = new Agent({ connect: { ca: cert } })
    const denied = await request(`${url}/s/`, { dispatcher })
    assert.equal(denied.statusCode, 401)
    await denied.body.text()
    const ok = await request(`${url}/s/`, {
      dispatcher,
      headers: { authorization: `Basic ${Buffer.from('tess:tls-pw').toString('base64')}` },
    })
    assert.equal(ok.statusCode, 200)
    const seen = JSON.parse(await ok.body.text())
    assert.equal(seen.headers['x-forwarded-proto'], 'https')
    assert.equal(seen.headers['x-remote-user'], 'tess')
    await dispatcher.close()
  },
)
