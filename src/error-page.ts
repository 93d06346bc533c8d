/**
 * The front's own refusals (400, 401/407, 403, 404, 413, 429, 5xx…), worded for whoever asked:
 * a browser (Accept names text/html) gets a small HTML page saying what happened and what to
 * do; every other client gets the short plain text it always got. Status and headers (the
 * challenge, Retry-After, Cache-Control) are the caller's and are the same either way.
 * The page is built from fixed words only: no reason, error message, provider or user name
 * reaches it, so it cannot leak internals or tell whether a user exists. Answers from a
 * target (an app's own 404 or 500) never pass through here.
 */
import type { FastifyReply } from 'fastify'
import { STATUS_CODES, type ServerResponse } from 'node:http'

/** True when the Accept header asks for text/html (or XHTML) with a non-zero quality; `*∕*` alone does not. */
export function wantsHtml(accept: string | string[] | undefined): boolean {
  if (accept === undefined) return false
  for (const range of (Array.isArray(accept) ? accept.join(',') : accept).split(',')) {
    const [type, ...params] = range.split(';').map((p) => p.trim().toLowerCase())
    if (type !== 'text/html' && type !== 'application/xhtml+xml') continue
    const q = params.find((p) => p.startsWith('q='))
    if (q === undefined || Number(q.slice(2)) > 0) return true
  }
  return false
}

/**
 * Sends `text` as text/plain, or the page for `status` to a browser. Either way the answer
 * varies with Accept, which shared caches are told.
 */
export function sendRefusal(reply: FastifyReply, status: number, text: string): FastifyReply {
  reply.code(status).header('vary', 'accept')
  if (!wantsHtml(reply.request.headers.accept)) return reply.type('text/plain; charset=utf-8').send(text)
  return (
    reply
      .type('text/html; charset=utf-8')
      // The page needs nothing but its own inline style: no script, image, frame or form may run from it.
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .send(errorPage(status, retryAfterSeconds(reply.getHeader('retry-after'))))
  )
}

/**
 * sendRefusal for a response no Fastify reply wraps (the front's fast path, front-fast-path.ts):
 * the same status, fields and body. `accept` is the request's Accept.
 */
export function writeRefusal(
  res: ServerResponse,
  accept: string | string[] | undefined,
  status: number,
  text: string,
): void {
  const html = wantsHtml(accept)
  const body = html ? errorPage(status, retryAfterSeconds(res.getHeader('retry-after'))) : text
  res.statusCode = status
  res.setHeader('vary', 'accept')
  if (html) {
    res.setHeader('content-type', 'text/html; charset=utf-8')
    res.setHeader('content-security-policy', CSP)
    res.setHeader('x-content-type-options', 'nosniff')
  } else res.setHeader('content-type', 'text/plain; charset=utf-8')
  res.setHeader('content-length', Buffer.byteLength(body))
  res.end(body)
}

const CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

interface Words {
  title: string
  what: string
  todo: string
}

const WORDS: Record<number, Words> = {
  400: {
    title: 'Bad request',
    what: 'The address or the request could not be understood.',
    todo: 'Check the address. If you followed a link, it may be broken: go back and try another way.',
  },
  401: {
    title: 'Sign-in required',
    what: 'This page needs you to sign in, and no valid user name and password were given.',
    todo: "Reload the page to be asked again, and check your user name and password. If you have forgotten them, ask the site's administrator.",
  },
  403: {
    title: 'Access denied',
    what: 'You may not open this page.',
    todo: "If you think you should have access, ask the site's administrator. Signing in as another user may need the browser to be closed first.",
  },
  404: {
    title: 'Page not found',
    what: 'There is nothing at this address.',
    todo: "Check the address for typing mistakes, or start again from the site's home page.",
  },
  407: {
    title: 'Proxy sign-in required',
    what: 'The proxy needs you to sign in, and no valid user name and password were given.',
    todo: 'Reload the page to be asked again, and check your user name and password.',
  },
  413: {
    title: 'Request too large',
    what: 'What was sent (an upload, a form) is larger than this site accepts.',
    todo: 'Try again with a smaller file or less data.',
  },
  429: {
    title: 'Too many attempts',
    what: 'There were too many failed sign-in attempts, so sign-in is paused for a while.',
    todo: 'Wait, then try again with the right user name and password.',
  },
  431: {
    title: 'Request too large',
    what: 'Your browser sent more headers or cookies than this site accepts.',
    todo: "Clear this site's cookies, then try again.",
  },
}

const SERVER_ERROR: Words = {
  title: 'Something went wrong',
  what: 'The site could not answer this request.',
  todo: "Try again later. If it keeps happening, tell the site's administrator when it happened.",
}
const UNAVAILABLE: Words = {
  title: 'Temporarily unavailable',
  what: 'The site is busy or briefly unavailable.',
  todo: 'Wait a moment, then reload the page.',
}
const OTHER_CLIENT_ERROR: Words = {
  title: 'Request refused',
  what: 'This request cannot be answered.',
  todo: 'Check the address, or go back and try another way.',
}

function wordsFor(status: number): Words {
  const known = WORDS[status]
  if (known !== undefined) return known
  if (status === 502 || status === 503 || status === 504) return UNAVAILABLE
  return status >= 500 ? SERVER_ERROR : OTHER_CLIENT_ERROR
}

/** A Retry-After in whole seconds, if the reply carries one (an HTTP date is not repeated on the page). */
function retryAfterSeconds(value: unknown): number | undefined {
  const s = String(value ?? '')
  return /^\d{1,9}$/.test(s) ? Number(s) : undefined
}

function wait(seconds: number): string {
  if (seconds < 90) return `${seconds} second${seconds === 1 ? '' : 's'}`
  const minutes = Math.ceil(seconds / 60)
  return `${minutes} minutes`
}

export function errorPage(status: number, retryAfterS?: number): string {
  const w = wordsFor(status)
  const heading = `${status} ${STATUS_CODES[status] ?? 'Error'}`
  const when = retryAfterS !== undefined ? `<p>You can try again in about ${esc(wait(retryAfterS))}.</p>\n` : ''
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${esc(w.title)}</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;color:#222}
h1{font-size:1.5em;margin-bottom:.2em}
.status{color:#666;margin-top:0}
</style>
</head>
<body>
<h1>${esc(w.title)}</h1>
<p class="status">${esc(heading)}</p>
<p>${esc(w.what)}</p>
<p>${esc(w.todo)}</p>
${when}</body>
</html>
`
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}
