/** An external upstream: a plain node:http hello world (keep-alive). Prints {"url"} once listening. */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

const server = createServer((_req, res) => {
  res.setHeader('content-type', 'text/plain')
  res.end('hello')
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo
  process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${port}/` }) + '\n')
})
process.once('SIGTERM', () => {
  server.closeAllConnections()
  server.close(() => process.exit(0))
})
