/**
 * The HTML both demo apps share: escaping, one page layout with a header that says who is
 * logged in (the identity gatehouse sent), and a small stylesheet inlined in every page.
 */
import type { Identity } from 'gatehouse-auth/app'

/** Escapes text for HTML element content and double-quoted attribute values. */
export function esc(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

const CSS = `
:root{--fg:#1d2330;--muted:#5b6474;--line:#dde2ea;--accent:#2f5bd3;--bg:#f6f7fb;--ok:#1d7a46;--bad:#b3261e}
*{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg)}
header{background:#fff;border-bottom:1px solid var(--line);padding:.6em 1.5em;display:flex;gap:1.2em;align-items:center;flex-wrap:wrap}
header .brand{font-weight:700}header nav a{margin-right:1em}header .who{margin-left:auto;color:var(--muted)}
main{max-width:58em;margin:1.5em auto;padding:0 1.5em}a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:1em 1.2em;margin:1em 0}
table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:.45em .6em;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:.85em;color:var(--muted);font-weight:600}
input[type=text],input[type=password],textarea{width:100%;padding:.45em;border:1px solid var(--line);border-radius:5px;font:inherit}
textarea{min-height:8em}label{display:block;margin:.6em 0 .2em;font-weight:600}
button{font:inherit;padding:.35em .9em;border-radius:5px;border:1px solid var(--accent);background:var(--accent);color:#fff;cursor:pointer}
button.plain{background:#fff;color:var(--accent)}form.inline{display:inline}form.inline input[type=text],form.inline input[type=password]{width:auto}
.tag{display:inline-block;padding:0 .5em;border-radius:999px;font-size:.8em;border:1px solid var(--line);background:#fff}
.open{color:var(--ok);border-color:var(--ok)}.closed,.inactive{color:var(--bad);border-color:var(--bad)}
.muted{color:var(--muted)}.error{color:var(--bad);font-weight:600}pre.wiki{white-space:pre-wrap;font:inherit}
`

export interface PageOptions {
  title: string
  identity?: Identity
  nav?: Array<[href: string, label: string]>
}

export function page(opts: PageOptions, body: string): string {
  const who =
    opts.identity?.user === undefined
      ? 'not logged in'
      : `logged in as <b class="user">${esc(opts.identity.user)}</b>${opts.identity.groups.length > 0 ? ` (${opts.identity.groups.map(esc).join(', ')})` : ''}`
  const nav = (opts.nav ?? []).map(([href, label]) => `<a href="${esc(href)}">${esc(label)}</a>`).join('')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(opts.title)}</title><style>${CSS}</style></head>
<body><header><a class="brand" href="/">gatehouse demo</a><nav>${nav}</nav><span class="who">${who}</span></header>
<main>${body}</main></body></html>`
}

/** A hidden CSRF field for a form. */
export function csrfField(token: string): string {
  return `<input type="hidden" name="csrf" value="${esc(token)}">`
}

export function when(date: string): string {
  return `<span class="muted">${esc(date.replace('T', ' ').slice(0, 16))}</span>`
}
