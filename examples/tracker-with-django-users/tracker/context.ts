/** What the tracker's route modules share: the database, CSRF tokens, and page rendering. */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { getIdentity, getUser } from 'gatehouse-auth/app'
import type { Csrf } from '../lib/forms.js'
import { esc, page } from '../lib/html.js'
import type { TrackerDb } from './db.js'

export const NAV: Array<[string, string]> = [
  ['/tracker/', 'Dashboard'],
  ['/tracker/tickets', 'Tickets'],
  ['/tracker/wiki', 'Wiki'],
  ['/tracker/admin', 'Admin'],
]

export interface TrackerContext {
  db: TrackerDb
  csrf: Csrf
}

/** The authenticated user; the tracker's routes only run once the guard in app.ts saw one. */
export function userOf(req: FastifyRequest): string {
  return getUser(req.raw) ?? ''
}

export function render(
  req: FastifyRequest,
  reply: FastifyReply,
  status: number,
  title: string,
  body: string,
): FastifyReply {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .send(page({ title: `${title} · Tracker`, identity: getIdentity(req.raw), nav: NAV }, body))
}

export function notFound(req: FastifyRequest, reply: FastifyReply, what: string): FastifyReply {
  return render(req, reply, 404, 'Not found', `<h1>Not found</h1><p>${esc(what)}</p>`)
}

export function seeOther(reply: FastifyReply, location: string): FastifyReply {
  return reply.code(303).header('location', location).send()
}

/** Escaped text with [[WikiPage]] and #123 turned into links. */
export function richText(text: string): string {
  return esc(text)
    .replace(
      /\[\[([A-Za-z0-9][A-Za-z0-9_-]{0,63})\]\]/g,
      (_m, name: string) => `<a href="/tracker/wiki/${name}">${name}</a>`,
    )
    .replace(
      /(^|[\s(])#([0-9]{1,9})\b/g,
      (_m, pre: string, id: string) => `${pre}<a href="/tracker/tickets/${id}">#${id}</a>`,
    )
}

export function ticketId(raw: string): number | undefined {
  return /^[0-9]{1,9}$/.test(raw) ? Number(raw) : undefined
}
