/** A real node:http upstream on 127.0.0.1 that answers with what it received, as JSON. */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import { createHash } from 'node:crypto'
import type { AddressInfo } from 'node:net'

export interface Seen {
  method: string
  url: string
  headers: IncomingHttpHeaders
  rawHeaders: string[]
  bodyBytes: number
  bodySha256: string
}

export interface EchoUpstream {
  url: string
  port: number
  seen: Seen[]
  close(): Promise<void>
}

export async function startEchoUpstream(): Promise<EchoUpstream> {
  const seen: Seen[] = []
  const server: Server = createServer((req, res) => {
    const hash = createHash('sha256')
    let bytes = 0
    req.on('data', (c: Buffer) => {
      bytes += c.length
      hash.update(c)
    })
    req.on('end', () => {
      const entry: Seen = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        bodyBytes: bytes,
        bodySha256: hash.digest('hex'),
      }
      seen.push(entry)
      const body = JSON.stringify(entry)
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'x-upstream': 'echo',
      })
      res.end(req.method === 'HEAD' ? undefined : body)
    })
  })
  server.keepAliveTimeout = 5000
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}
