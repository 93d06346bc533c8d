/**
 * Already on @fastify/basic-auth? Keep it, and let a gatehouse provider decide (with the
 * credential cache and `require`).
 *   node --import tsx examples/library-fastify/basic-auth-validate.ts
 */
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import basicAuth from '@fastify/basic-auth'
import { createBasicAuthValidate, identityOf } from 'gatehouse-auth'

const validate = createBasicAuthValidate(
  { type: 'htpasswd', file: 'users.htpasswd', groupFile: 'groups' },
  { realm: 'Office', require: { groups: ['staff'] }, baseDir: fileURLToPath(new URL('.', import.meta.url)) },
)

const app = Fastify({ logger: true })
await app.register(basicAuth, { validate, authenticate: { realm: 'Office' } })
app.addHook('onRequest', app.basicAuth)
app.addHook('onClose', async () => validate.close())
app.get('/', async (request) => `hello, ${identityOf(request)?.user}\n`)

await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 3001) })
