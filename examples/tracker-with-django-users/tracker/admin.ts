/**
 * The tracker's admin area. gatehouse already requires group `staff` for /tracker/admin (a
 * route with `require: { groups: [staff] }`); the app checks the groups it was sent as well.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { getGroups } from 'gatehouse-auth/app'
import { formOf } from '../lib/forms.js'
import { csrfField, esc } from '../lib/html.js'
import { notFound, render, seeOther, ticketId, userOf, type TrackerContext } from './context.js'
import { ticketTable } from './tickets.js'

async function requireStaff(req: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (getGroups(req.raw).includes('staff')) return
  await render(
    req,
    reply,
    403,
    'Forbidden',
    '<h1>Forbidden</h1><p>The tracker admin area is for group <b>staff</b>.</p>',
  )
}

export function registerAdmin(app: FastifyInstance, { db, csrf }: TrackerContext): void {
  app.register(async (admin) => {
    admin.addHook('preHandler', requireStaff)
    admin.get('/tracker/admin', async (req, reply) => {
      const s = db.stats()
      const token = csrf.token(userOf(req))
      return render(
        req,
        reply,
        200,
        'Admin',
        `<h1>Tracker admin</h1>
<p class="muted">Only group <b>staff</b> gets here: gatehouse enforces it before the request reaches this app.</p>
<div class="card">Open tickets: <b>${s.open}</b> · closed: <b>${s.closed}</b> · comments: <b>${s.comments}</b> · wiki pages: <b>${s.pages}</b></div>
<div class="card">People who wrote something: ${s.people.map(esc).join(', ') || '<span class="muted">nobody yet</span>'}.
Users, passwords and groups are managed in the <a href="/accounts/">accounts app</a>.</div>
<h2>All tickets</h2>${ticketTable(db.tickets('all'))}
<form class="card" method="post" action="/tracker/admin/delete-ticket">${csrfField(token)}
<label for="id">Delete ticket number</label><input type="text" id="id" name="id" inputmode="numeric" required><p><button>Delete</button></p></form>`,
      )
    })
    admin.post('/tracker/admin/delete-ticket', async (req, reply) => {
      const raw = formOf(req).id ?? ''
      const id = ticketId(raw.trim().replace(/^#/, ''))
      if (id === undefined || !db.deleteTicket(id)) return notFound(req, reply, `There is no ticket ${raw}.`)
      return seeOther(reply, '/tracker/admin')
    })
  })
}
