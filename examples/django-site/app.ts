/**
 * The tiny app this example protects (daemon group `site`): it says who gatehouse let in, as
 * checked against the Django site's users, and with which Django groups.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { getIdentity } from '../../src/app-helpers.js'

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

export default function site(req: IncomingMessage, res: ServerResponse): void {
  const { user, groups } = getIdentity(req)
  const path = new URL(req.url ?? '/', 'http://site.invalid').pathname
  const section = path.startsWith('/reports') ? 'Reports (group staff only)' : 'Site'
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
  res.end(`<!doctype html><meta charset="utf-8"><title>${section}</title>
<body style="font-family:system-ui,sans-serif;max-width:40em;margin:2em auto">
<h1>${section}</h1><p>Hello <b id="user">${esc(user ?? '(nobody)')}</b>; Django groups: <span id="groups">${esc(groups.join(', ') || '(none)')}</span>.</p>
<p>Path: <code>${esc(path)}</code>. Try <a href="/">/</a> and <a href="/reports/">/reports/</a>.</p></body>`)
}
