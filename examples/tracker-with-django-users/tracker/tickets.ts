/** Tickets: list, create, view, comment, close and reopen. */
import type { FastifyInstance } from 'fastify'
import { formOf } from '../lib/forms.js'
import { csrfField, esc, when } from '../lib/html.js'
import { notFound, render, richText, seeOther, ticketId, userOf, type TrackerContext } from './context.js'
import type { Ticket } from './db.js'

type IdParams = { Params: { id: string } }

export function statusTag(t: Ticket): string {
  return `<span class="tag ${t.status}">${t.status}</span>`
}

export function ticketTable(tickets: Ticket[]): string {
  if (tickets.length === 0) return '<p class="muted">No tickets.</p>'
  const rows = tickets.map(
    (t) =>
      `<tr><td><a href="/tracker/tickets/${t.id}">#${t.id}</a></td><td><a href="/tracker/tickets/${t.id}">${esc(t.title)}</a></td><td>${statusTag(t)}</td><td>${esc(t.reporter)}</td><td>${when(t.createdAt)}</td></tr>`,
  )
  return `<table><tr><th>#</th><th>Summary</th><th>Status</th><th>Reporter</th><th>Created</th></tr>${rows.join('')}</table>`
}

export function registerTickets(app: FastifyInstance, { db, csrf }: TrackerContext): void {
  app.get<{ Querystring: { status?: string } }>('/tracker/tickets', async (req, reply) => {
    const status = req.query.status === 'closed' || req.query.status === 'all' ? req.query.status : 'open'
    const tabs = (['open', 'closed', 'all'] as const)
      .map((s) => (s === status ? `<b>${s}</b>` : `<a href="/tracker/tickets?status=${s}">${s}</a>`))
      .join(' · ')
    return render(
      req,
      reply,
      200,
      'Tickets',
      `<h1>Tickets</h1><p>${tabs} · <a href="/tracker/tickets/new">New ticket</a></p>${ticketTable(db.tickets(status))}`,
    )
  })

  app.get('/tracker/tickets/new', async (req, reply) =>
    render(
      req,
      reply,
      200,
      'New ticket',
      `<h1>New ticket</h1>
<form class="card" method="post" action="/tracker/tickets">${csrfField(csrf.token(userOf(req)))}
<label for="title">Summary</label><input type="text" id="title" name="title" maxlength="200" required>
<label for="body">Description</label><textarea id="body" name="body"></textarea>
<p><button>Create ticket</button></p></form>`,
    ),
  )

  app.post('/tracker/tickets', async (req, reply) => {
    const { title = '', body = '' } = formOf(req)
    if (title.trim() === '' || title.length > 200)
      return render(
        req,
        reply,
        400,
        'New ticket',
        '<p class="error">A ticket needs a summary of at most 200 characters.</p>',
      )
    return seeOther(reply, `/tracker/tickets/${db.createTicket(title.trim(), body, userOf(req))}`)
  })

  app.get<IdParams>('/tracker/tickets/:id', async (req, reply) => {
    const id = ticketId(req.params.id)
    const t = id === undefined ? undefined : db.ticket(id)
    if (t === undefined) return notFound(req, reply, `There is no ticket ${req.params.id}.`)
    const token = csrf.token(userOf(req))
    const comments = db
      .comments(t.id)
      .map(
        (c) =>
          `<div class="card"><b>${esc(c.author)}</b> ${when(c.createdAt)}<pre class="wiki">${richText(c.body)}</pre></div>`,
      )
      .join('')
    const toggle = t.status === 'open' ? 'close' : 'reopen'
    return render(
      req,
      reply,
      200,
      `#${t.id} ${t.title}`,
      `<h1>#${t.id} ${esc(t.title)} ${statusTag(t)}</h1>
<p class="muted">Reported by <b>${esc(t.reporter)}</b> ${when(t.createdAt)}${t.closedBy ? ` · closed by <b>${esc(t.closedBy)}</b>` : ''}</p>
<div class="card"><pre class="wiki">${richText(t.body) || '<span class="muted">(no description)</span>'}</pre></div>
<h2>Comments</h2>${comments || '<p class="muted">No comments yet.</p>'}
<form class="card" method="post" action="/tracker/tickets/${t.id}/comments">${csrfField(token)}
<label for="comment">Add a comment</label><textarea id="comment" name="body" required></textarea><p><button>Comment</button></p></form>
<form method="post" action="/tracker/tickets/${t.id}/${toggle}">${csrfField(token)}<button class="plain">${toggle === 'close' ? 'Close ticket' : 'Reopen ticket'}</button></form>`,
    )
  })

  app.post<IdParams>('/tracker/tickets/:id/comments', async (req, reply) => {
    const id = ticketId(req.params.id)
    if (id === undefined || db.ticket(id) === undefined)
      return notFound(req, reply, `There is no ticket ${req.params.id}.`)
    const body = formOf(req).body ?? ''
    if (body.trim() === '') return render(req, reply, 400, 'Comment', '<p class="error">A comment cannot be empty.</p>')
    db.addComment(id, userOf(req), body)
    return seeOther(reply, `/tracker/tickets/${id}`)
  })

  for (const [action, status] of [
    ['close', 'closed'],
    ['reopen', 'open'],
  ] as const) {
    app.post<IdParams>(`/tracker/tickets/:id/${action}`, async (req, reply) => {
      const id = ticketId(req.params.id)
      if (id === undefined || !db.setStatus(id, status, userOf(req)))
        return notFound(req, reply, `There is no ticket ${req.params.id}.`)
      return seeOther(reply, `/tracker/tickets/${id}`)
    })
  }
}
