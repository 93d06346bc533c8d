/**
 * The login and logout pages: plain HTML forms that work without JavaScript, with labels tied
 * to their fields and the autocomplete hints password managers use. The login page can be
 * replaced by a template of the operator's own (session.template) with {{placeholders}};
 * every value put in is HTML-escaped.
 */
import { readFileSync } from 'node:fs'
import { errors } from '../errors.js'

/** No script, no frame, forms only to this site: the page needs its inline style and nothing else. */
export const PAGE_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

export interface LoginPageValues {
  action: string
  csrf: string
  returnTo: string
  realm: string
  /** A fixed sentence (never the reason: an unknown user and a wrong password read the same). */
  error: string
  logoutAction: string
}

/** Placeholders a template must contain for the form to work; the others are optional. */
const REQUIRED = ['{{action}}', '{{csrf}}', '{{return}}']

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

const STYLE =
  'body{font:16px/1.5 system-ui,sans-serif;max-width:24rem;margin:4rem auto;padding:0 1rem;color:#222}label{display:block;margin-top:1rem}input{font:inherit;width:100%;box-sizing:border-box;padding:.4rem}button{font:inherit;margin-top:1.5rem;padding:.4rem 1.2rem}p.error{color:#a00}'

const BUILT_IN = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Sign in</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>Sign in</h1>
<p>{{realm}}</p>
{{errorBlock}}
<form method="post" action="{{action}}">
<input type="hidden" name="csrf" value="{{csrf}}">
<input type="hidden" name="return" value="{{return}}">
<label for="username">User name</label>
<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
</main>
</body>
</html>
`

export class LoginPage {
  readonly #template: string

  constructor(templateFile?: string) {
    if (templateFile === undefined) {
      this.#template = BUILT_IN
      return
    }
    let text: string
    try {
      text = readFileSync(templateFile, 'utf8')
    } catch (err) {
      throw errors.GH_ERR_CONFIG_INVALID(`session.template: cannot read ${templateFile}: ${(err as Error).message}`)
    }
    const missing = REQUIRED.filter((p) => !text.includes(p))
    if (missing.length > 0)
      throw errors.GH_ERR_CONFIG_INVALID(
        `session.template: ${templateFile} lacks ${missing.join(', ')} (the form cannot work without them)`,
      )
    this.#template = text
  }

  render(v: LoginPageValues): string {
    const values: Record<string, string> = {
      action: escapeHtml(v.action),
      csrf: escapeHtml(v.csrf),
      return: escapeHtml(v.returnTo),
      realm: escapeHtml(v.realm),
      error: escapeHtml(v.error),
      errorBlock: v.error === '' ? '' : `<p class="error" role="alert">${escapeHtml(v.error)}</p>`,
      logoutAction: escapeHtml(v.logoutAction),
    }
    // One pass: a value that happens to contain {{…}} is never expanded again.
    return this.#template.replace(
      /\{\{(action|csrf|return|realm|error|errorBlock|logoutAction)\}\}/g,
      (_m, name: string) => values[name]!,
    )
  }
}

export function logoutPage(v: { action: string; csrf: string | undefined }): string {
  const body =
    v.csrf === undefined
      ? '<h1>Signed out</h1>\n<p>You are not signed in.</p>'
      : `<h1>Sign out?</h1>
<form method="post" action="${escapeHtml(v.action)}">
<input type="hidden" name="csrf" value="${escapeHtml(v.csrf)}">
<button type="submit">Sign out</button>
</form>`
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Sign out</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`
}
