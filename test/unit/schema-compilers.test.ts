import { test } from 'node:test'
import assert from 'node:assert/strict'
import Fastify from 'fastify'
import { lazySchemaController } from '../../src/schema-compilers.js'

test('a route given schemas on an instance with the lazy compilers validates its body and serialises its response', async (t) => {
  const app = Fastify({ schemaController: lazySchemaController() })
  t.after(() => app.close())
  app.post(
    '/echo',
    {
      schema: {
        body: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } },
        response: { 200: { type: 'object', properties: { n: { type: 'integer' } } } },
      },
    },
    async (request) => ({ ...(request.body as object), secret: 'not in the response schema' }),
  )
  const bad = await app.inject({ method: 'POST', url: '/echo', payload: { n: 'seven' } })
  assert.equal(bad.statusCode, 400)
  assert.match(bad.json<{ message: string }>().message, /body\/n must be integer/)
  const good = await app.inject({ method: 'POST', url: '/echo', payload: { n: 7 } })
  assert.equal(good.statusCode, 200)
  assert.deepEqual(good.json(), { n: 7 })
})
