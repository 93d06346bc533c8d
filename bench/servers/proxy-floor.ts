/**
 * What one Node event loop costs as an HTTP proxy before any gatehouse work: a `node:http`
 * server forwarding each request to the upstream (argv[2]) through an undici Pool, the same
 * client UpstreamTarget uses, and sending the body back with one write. No Fastify, no auth, no
 * header hygiene, no access log: the ceiling of the gatehouse → upstream row on this machine.
 * Prints {"url"} on stdout once listening.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Pool } from 'undici'

const upstream = new URL(process.argv[2] ?? '')
const pool = new Pool(upstream.origin, { connections: 64 })

const server = createServer((req, res) => {
  pool.request({ method: 'GET', path: req.url ?? '/', headers: ['host', upstream.host] }).then(
    async ({ statusCode, headers, body }) => {
      const payload = Buffer.from(await body.arrayBuffer())
      res.writeHead(statusCode, {
        'content-type': String(headers['content-type'] ?? 'text/plain'),
        'content-length': payload.length,
      })
      res.end(payload)
    },
    () => {
      res.writeHead(502).end()
    },
  )
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo
  process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${port}/` }) + '\n')
})
process.once('SIGTERM', () => {
  server.closeAllConnections()
  server.close(() => {
    void pool.close().then(() => process.exit(0))
  })
})
