/**
 * The tracker (daemon group `tracker`): tickets and wiki pages in SQLite, served behind
 * gatehouse, which authenticates every /tracker request against the accounts app's users
 * (Digest or Basic, realm Tracker) and sends the user in X-Remote-User. Also serves the public
 * landing page at /.
 */
import Fastify from 'fastify'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { getIdentity, getUser } from 'gatehouse-auth/app'
import { dataFile, ensureSecretFile } from '../lib/data-dir.js'
import { Csrf, registerFormParser } from '../lib/forms.js'
import { esc, page } from '../lib/html.js'
import { registerAdmin } from './admin.js'
import { NAV, render, type TrackerContext } from './context.js'
import { TrackerDb } from './db.js'
import { registerTickets, ticketTable } from './tickets.js'
import { registerWiki } from './wiki.js'

const ctx: TrackerContext = {
  db: TrackerDb.open(dataFile('tracker.sqlite')),
  csrf: new Csrf(ensureSecretFile(dataFile('csrf.secret')), 'tracker'),
}
const app = Fastify({ logger: false })
registerFormParser(app)

// Defense in depth: gatehouse authenticates every /tracker request; without a user, refuse.
app.addHook('onRequest', async (req, reply) => {
  if (!req.url.startsWith('/tracker') || getUser(req.raw) !== undefined) return
  await reply
    .code(401)
    .type('text/plain; charset=utf-8')
    .send('Unauthorized: this app runs behind gatehouse, which sends the user.\n')
})
app.addHook(
  'preHandler',
  ctx.csrf.guard((req) => getUser(req.raw)),
)

app.get('/', async (req, reply) =>
  reply.type('text/html; charset=utf-8').send(
    page(
      { title: 'gatehouse demo', identity: getIdentity(req.raw), nav: NAV },
      `
<h1>gatehouse demo: a tracker protected by another app's users</h1>
<p>Two apps run in two supervised daemon process groups behind one gatehouse front server.
The <b>accounts</b> app owns the user database and exports the provider that checks passwords;
gatehouse asks it, over IPC, for every login to the <b>tracker</b>.</p>
<table><tr><th>Where</th><th>Who may enter</th></tr>
<tr><td><a href="/tracker/">/tracker/</a> tickets and wiki</td><td>any active account (Digest SHA-256 or MD5, or Basic; realm Tracker)</td></tr>
<tr><td><a href="/tracker/admin">/tracker/admin</a></td><td>accounts in group <b>staff</b> (others get 403)</td></tr>
<tr><td><a href="/accounts/signup">/accounts/signup</a></td><td>everyone: create an account, then log into the tracker with it</td></tr>
<tr><td><a href="/accounts/">/accounts/</a> users, passwords, groups</td><td>group <b>staff</b></td></tr></table>
<p class="muted">This page is public: gatehouse sent no user, and any X-Remote-User a client sends is removed.</p>`,
    ),
  ),
)

app.get('/tracker', async (_req, reply) => reply.code(301).header('location', '/tracker/').send())
app.get('/tracker/', async (req, reply) => {
  const user = getUser(req.raw) ?? ''
  const mine = ctx.db.tickets('open').filter((t) => t.reporter === user)
  return render(
    req,
    reply,
    200,
    'Dashboard',
    `<h1>Hello, <span class="user">${esc(user)}</span></h1>
<p>You are logged into the tracker as <b>${esc(user)}</b>, checked by the accounts app's provider.</p>
<h2>Open tickets</h2>${ticketTable(ctx.db.tickets('open', 20))}
<p><a href="/tracker/tickets/new">New ticket</a> · <a href="/tracker/wiki">Wiki</a>${mine.length > 0 ? ` · you reported ${mine.length} open ticket(s)` : ''}</p>`,
  )
})
registerTickets(app, ctx)
registerWiki(app, ctx)
registerAdmin(app, ctx)

await app.ready()

export default function tracker(req: IncomingMessage, res: ServerResponse): void {
  app.routing(req, res)
}
