/**
 * The example app the demo protects: a plain node:http server that greets the user the
 * gateway authenticated (X-Remote-User) and shows the groups.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

const page = (title: string, body: string) =>
  `<!doctype html><meta charset="utf-8"><title>${title}</title><body style="font-family:sans-serif;max-width:40em;margin:2em auto">${body}</body>`
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

export async function startExampleApp(port = 0): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const user = req.headers['x-remote-user']
    const groups = req.headers['x-remote-groups']
    const who =
      typeof user === 'string'
        ? `You are <b>${esc(decodeURIComponent(user))}</b>${groups ? `, groups: ${esc(String(groups))}` : ''}.`
        : 'You are not logged in (this is a public page).'
    const links =
      '<ul><li><a href="/basic/">/basic</a> (Basic)</li><li><a href="/digest/">/digest</a> (Digest, then Basic)</li><li><a href="/staff/">/staff</a> (group staff)</li></ul>'
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    res.end(
      page(
        'gatehouse demo',
        `<h1>gatehouse demo</h1><p>${who}</p><p>Path: <code>${esc(req.url ?? '/')}</code></p>${links}`,
      ),
    )
  })
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r))
  const addr = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${addr.port}`,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}
