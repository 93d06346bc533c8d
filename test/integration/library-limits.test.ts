/**
 * The Fastify plugin keeps the gateway's request limits and write rules: a head with more header
 * fields than `maxHeaderFields` gets 431 before any check, and `limitExcept` makes methods outside
 * its list need its own `require` (403), the handler never running for a refused request.
 * Real Fastify on 127.0.0.1, raw requests written byte for byte.
 */
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import Fastify, { type FastifyInstance } from 'fastify'
import { gatehouseAuth, type GatehouseAuthOptions } from '../../src/library/fastify-plugin.js'
import { rawRequest } from '../helpers/raw-request.js'

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`
const USERS: Record<string, { password: string; groups: string[] }> = {
  alice: { password: 'wonder', groups: ['committers'] },
  bob: { password: 'builder', groups: [] },
}
const provider = {
  name: 'memory',
  async checkPassword(_ctx: unknown, user: string, password: string) {
    const u = USERS[user]
    return u === undefined ? null : u.password === password
  },
  async groupsForUser(_ctx: unknown, user: string) {
    return USERS[user]?.groups ?? []
  },
}

async function listening(
  t: { after(fn: () => Promise<void>): void },
  opts: Partial<GatehouseAuthOptions>,
): Promise<{ port: number; seen: string[] }> {
  const seen: string[] = []
  const app: FastifyInstance = Fastify()
  await app.register(gatehouseAuth, { realm: 'lib', provider: provider as never, ...opts } as GatehouseAuthOptions)
  app.route({
    method: ['GET', 'HEAD', 'POST', 'PUT'],
    url: '/repo',
    handler: async (request) => {
      seen.push(request.method)
      return 'ok\n'
    },
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  t.after(() => app.close())
  return { port: (app.server.address() as { port: number }).port, seen }
}

const fields = (n: number, auth?: string): Array<[string, string]> => [
  ['Host', '127.0.0.1'],
  ...(auth ? [['Authorization', auth] as [string, string]] : []),
  ...Array.from({ length: n }, (_, i) => [`X-Filler-${i}`, 'x'] as [string, string]),
  ['Connection', 'close'],
]

describe('the plugin limits header fields', () => {
  test('more fields than maxHeaderFields: 431 with Connection: close, before the credentials are looked at', async (t) => {
    const { port, seen } = await listening(t, { maxHeaderFields: 20 })
    const over = await rawRequest(port, 'GET', '/repo', fields(20, basic('alice', 'wonder')))
    assert.equal(over.status, 431)
    assert.deepEqual(over.headers['connection'], ['close'])
    assert.equal(over.headers['www-authenticate'], undefined)
    const within = await rawRequest(port, 'GET', '/repo', fields(10, basic('alice', 'wonder')))
    assert.equal(within.status, 200)
    assert.deepEqual(seen, ['GET'])
  })

  test('the default is 100 fields, as the gateway and Apache', async (t) => {
    const { port, seen } = await listening(t, {})
    assert.equal((await rawRequest(port, 'GET', '/repo', fields(100, basic('alice', 'wonder')))).status, 431)
    assert.equal((await rawRequest(port, 'GET', '/repo', fields(90, basic('alice', 'wonder')))).status, 200)
    assert.deepEqual(seen, ['GET'])
  })

  test('maxHeaderFields: false leaves the count to Node', async (t) => {
    const { port } = await listening(t, { maxHeaderFields: false })
    assert.equal((await rawRequest(port, 'GET', '/repo', fields(150, basic('alice', 'wonder')))).status, 200)
  })

  test('a bad maxHeaderFields or limitExcept is an option error naming it', async () => {
    for (const maxHeaderFields of [0, 1001, 2.5, '100']) {
      const app = Fastify()
      await assert.rejects(
        async () => {
          await app.register(gatehouseAuth, { realm: 'lib', provider: provider as never, maxHeaderFields } as never)
        },
        (err: Error & { code?: string }) => err.code === 'GH_ERR_OPT_INVALID' && /maxHeaderFields/.test(err.message),
      )
      await app.close()
    }
    for (const limitExcept of [
      { methods: [], require: 'valid-user' },
      { methods: ['get'], require: 'valid-user' },
      { methods: ['GET'] },
      'GET',
    ]) {
      const app = Fastify()
      await assert.rejects(
        async () => {
          await app.register(gatehouseAuth, { realm: 'lib', provider: provider as never, limitExcept } as never)
        },
        (err: Error & { code?: string }) => err.code === 'GH_ERR_OPT_INVALID' && /limitExcept/.test(err.message),
      )
      await app.close()
    }
  })
})

describe('the plugin applies limitExcept', () => {
  test('every user may read; a write needs the committers group: 403 for others, the handler never runs', async (t) => {
    const { port, seen } = await listening(t, {
      limitExcept: { methods: ['GET', 'OPTIONS'], require: { groups: ['committers'] } },
    })
    const h = (auth: string): Array<[string, string]> => [
      ['Host', '127.0.0.1'],
      ['Authorization', auth],
      ['Content-Length', '0'],
      ['Connection', 'close'],
    ]
    assert.equal((await rawRequest(port, 'GET', '/repo', h(basic('bob', 'builder')))).status, 200)
    assert.equal(
      (await rawRequest(port, 'HEAD', '/repo', h(basic('bob', 'builder')))).status,
      200,
      'GET brings HEAD with it',
    )
    const refused = await rawRequest(port, 'POST', '/repo', h(basic('bob', 'builder')))
    assert.equal(refused.status, 403)
    assert.equal(refused.headers['www-authenticate'], undefined)
    assert.equal((await rawRequest(port, 'PUT', '/repo', h(basic('bob', 'wrong')))).status, 401)
    assert.equal((await rawRequest(port, 'POST', '/repo', h(basic('alice', 'wonder')))).status, 200)
    assert.deepEqual(seen, ['GET', 'HEAD', 'POST'])
  })
})
