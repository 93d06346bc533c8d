/** The reference: a bare Fastify hello world. Prints {"url"} on stdout once listening. */
import Fastify from 'fastify'

const app = Fastify()
app.get('/', async () => 'hello')
const url = await app.listen({ host: '127.0.0.1', port: 0 })
process.stdout.write(JSON.stringify({ url }) + '\n')
process.once('SIGTERM', () => {
  void app.close().then(() => process.exit(0))
})
