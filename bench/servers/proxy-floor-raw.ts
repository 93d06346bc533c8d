/**
 * The proxy floor with gatehouse's own upstream client in place of undici: a `node:http` server
 * forwarding each request to the upstream (argv[2]) through the HTTP/1.1 pool the fast path uses
 * (src/proxy/http1-pool.ts, the strict parser included), the response written with one
 * writeHead and one end. No Fastify, no auth, no header hygiene, no access log: the ceiling of
 * the gatehouse → upstream row with that client. Prints {"url"} on stdout once listening.
 */
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Http1Pool } from '../../src/proxy/http1-pool.js'
import { requestHead } from '../../src/proxy/http1-request-head.js'
import type { Http1Handler } from '../../src/proxy/http1-connection.js'
import type { ResponseHead } from '../../src/proxy/http1-response-parser.js'

const upstream = new URL(process.argv[2] ?? '')
const pool = new Http1Pool({
  host: upstream.hostname,
  port: Number(upstream.port),
  connections: 64,
  connectTimeoutMs: 10_000,
  headersTimeoutMs: 60_000,
  bodyTimeoutMs: 60_000,
  keepAliveMs: 4_000,
  maxHeadBytes: 16_384,
})

/** Collects the body and answers once: what the undici floor does too. */
class Reply implements Http1Handler {
  readonly #res: ServerResponse
  #head: ResponseHead | undefined
  readonly #body: Buffer[] = []
  constructor(res: ServerResponse) {
    this.#res = res
  }
  onHead(head: ResponseHead): void {
    this.#head = head
  }
  onBody(chunk: Buffer): void {
    this.#body.push(chunk)
  }
  onEnd(): void {
    const payload = this.#body.length === 1 ? (this.#body[0] as Buffer) : Buffer.concat(this.#body)
    const type = this.#head?.headers.find((_v, i, a) => i % 2 === 1 && /^content-type$/i.test(a[i - 1] as string))
    this.#res.writeHead(this.#head?.status ?? 502, [
      'content-type',
      type ?? 'text/plain',
      'content-length',
      String(payload.length),
    ])
    this.#res.end(payload)
  }
  onError(): void {
    this.#res.writeHead(502).end()
  }
}

const server = createServer((req, res) => {
  pool.request('GET', requestHead('GET', req.url ?? '/', ['host', upstream.host]), new Reply(res))
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
