/**
 * A real node:http app whose pages are private and which asks to be cached for an hour:
 * behind a form route the gateway must still answer no-store. Records what it was asked.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface AppSeen {
  url: string
  headers: IncomingHttpHeaders
}

export interface PrivateApp {
  url: string
  seen: AppSeen[]
  close(): Promise<void>
}

export async function startPrivateApp(): Promise<PrivateApp> {
  const seen: AppSeen[] = []
  const server: Server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers })
    const user = String(req.headers['x-remote-user'])
    const body = `<!doctype html><title>private</title><p id="secret">private page of ${user} at ${req.url}</p><a id="next" href="/app/next">next</a>`
    res.writeHead(200, {
      'content-type': 'text/html',
      'cache-control': 'public, max-age=3600',
      expires: 'Thu, 01 Jan 2099 00:00:00 GMT',
    })
    res.end(body)
  })
  server.keepAliveTimeout = 5000
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}
