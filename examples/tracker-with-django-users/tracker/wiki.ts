/** Wiki pages: index, view, edit, history. Every save is a new revision. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { formOf } from '../lib/forms.js'
import { csrfField, esc, when } from '../lib/html.js'
import { notFound, render, richText, seeOther, userOf, type TrackerContext } from './context.js'
import { PAGE_NAME } from './db.js'

type PageParams = { Params: { page: string } }

function badName(req: FastifyRequest, reply: FastifyReply): FastifyReply {
  return render(req, reply, 400, 'Wiki', '<p class="error">Page names are letters, digits, - and _ (at most 64).</p>')
}

export function registerWiki(app: FastifyInstance, { db, csrf }: TrackerContext): void {
  app.get('/tracker/wiki', async (req, reply) => {
    const rows = db
      .pages()
      .map(
        (p) =>
          `<tr><td><a href="/tracker/wiki/${p.page}">${esc(p.page)}</a></td><td>${esc(p.author)}</td><td>${when(p.createdAt)}</td></tr>`,
      )
    return render(
      req,
      reply,
      200,
      'Wiki',
      `<h1>Wiki</h1>
${rows.length > 0 ? `<table><tr><th>Page</th><th>Last edited by</th><th>When</th></tr>${rows.join('')}</table>` : '<p class="muted">No pages yet.</p>'}
<form class="card" method="get" action="/tracker/wiki/go"><label for="page">Open or create a page</label><input type="text" id="page" name="page" placeholder="WikiStart"><p><button>Go</button></p></form>`,
    )
  })

  app.get<{ Querystring: { page?: string } }>('/tracker/wiki/go', async (req, reply) => {
    const name = req.query.page ?? ''
    return PAGE_NAME.test(name) ? seeOther(reply, `/tracker/wiki/${name}`) : badName(req, reply)
  })

  app.get<PageParams>('/tracker/wiki/:page', async (req, reply) => {
    const name = req.params.page
    if (!PAGE_NAME.test(name)) return badName(req, reply)
    const p = db.page(name)
    if (p === undefined)
      return render(
        req,
        reply,
        404,
        name,
        `<h1>${esc(name)}</h1><p>This page does not exist yet. <a href="/tracker/wiki/${name}/edit">Create it</a>.</p>`,
      )
    return render(
      req,
      reply,
      200,
      name,
      `<h1>${esc(name)}</h1><div class="card"><pre class="wiki">${richText(p.body)}</pre></div>
<p class="muted">Last edited by <b>${esc(p.author)}</b> ${when(p.createdAt)} · <a href="/tracker/wiki/${name}/edit">Edit</a> · <a href="/tracker/wiki/${name}/history">History</a></p>`,
    )
  })

  app.get<PageParams>('/tracker/wiki/:page/edit', async (req, reply) => {
    const name = req.params.page
    if (!PAGE_NAME.test(name)) return badName(req, reply)
    return render(
      req,
      reply,
      200,
      `Edit ${name}`,
      `<h1>Edit ${esc(name)}</h1>
<form class="card" method="post" action="/tracker/wiki/${name}">${csrfField(csrf.token(userOf(req)))}
<textarea name="body" rows="16">${esc(db.page(name)?.body ?? '')}</textarea>
<p class="muted">[[PageName]] links a page, #12 a ticket.</p><p><button>Save</button></p></form>`,
    )
  })

  app.post<PageParams>('/tracker/wiki/:page', async (req, reply) => {
    const name = req.params.page
    if (!PAGE_NAME.test(name)) return badName(req, reply)
    db.savePage(name, formOf(req).body ?? '', userOf(req))
    return seeOther(reply, `/tracker/wiki/${name}`)
  })

  app.get<PageParams>('/tracker/wiki/:page/history', async (req, reply) => {
    const name = req.params.page
    if (!PAGE_NAME.test(name)) return badName(req, reply)
    const revs = db.history(name)
    if (revs.length === 0) return notFound(req, reply, `There is no page ${name}.`)
    const items = revs.map(
      (r) =>
        `<div class="card"><b>${esc(r.author)}</b> ${when(r.createdAt)} <span class="muted">revision ${r.id}</span><pre class="wiki">${esc(r.body)}</pre></div>`,
    )
    return render(
      req,
      reply,
      200,
      `History of ${name}`,
      `<h1>History of <a href="/tracker/wiki/${name}">${esc(name)}</a></h1>${items.join('')}`,
    )
  })
}
