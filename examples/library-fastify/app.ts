/**
 * Your own Fastify app, protected by gatehouse as a library.
 *   htpasswd -cB users.htpasswd alice        # (apache2-utils) or: gatehouse users ...
 *   node --import tsx examples/library-fastify/app.ts        # PORT=3005 ... to listen elsewhere
 *   curl -u alice:PASSWORD http://127.0.0.1:3000/hello
 */
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import { gatehouseAuth, identityOf, type Provider } from 'gatehouse-auth'
// Opt-in types for request.user / request.groups (see docs/library.md).
import type {} from 'gatehouse-auth/fastify-request'

const here = fileURLToPath(new URL('.', import.meta.url))
const app = Fastify({ logger: true })

// Public routes, outside the protected context.
app.get('/', async () => 'hello, anyone\n')

// Everything registered in this context needs Basic credentials from users.htpasswd.
// The htpasswd provider runs in worker threads: bcrypt never stalls this event loop.
await app.register(async (office) => {
  await office.register(gatehouseAuth, {
    realm: 'Office',
    provider: { type: 'htpasswd', file: 'users.htpasswd', groupFile: 'groups' },
    baseDir: here,
  })
  office.get('/hello', async (request) => `hello, ${request.user} (${request.groups.join(', ') || 'no groups'})\n`)
  office.get('/health', { config: { auth: false } }, async () => 'ok\n')
})

// Digest (and Basic) against an in-process provider object: called directly, no threads.
const memory: Provider = {
  async checkPassword(_ctx, user, password) {
    return user === 'demo' ? password === 'demo' : null
  },
  async getRealmHash(_ctx, user, realm, algorithm) {
    if (user !== 'demo') return null
    const { createHash } = await import('node:crypto')
    return createHash(algorithm === 'MD5' ? 'md5' : 'sha256')
      .update(`${user}:${realm}:demo`)
      .digest('hex')
  },
}
await app.register(async (docs) => {
  await docs.register(gatehouseAuth, {
    realm: 'Docs',
    scheme: ['digest', 'basic'],
    provider: memory,
    digestSecret: process.env.GATEHOUSE_DIGEST_SECRET ?? 'change-me-to-a-long-random-secret',
  })
  docs.get('/docs', async (request) => ({ identity: identityOf(request) }))
})

await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 3000) })
