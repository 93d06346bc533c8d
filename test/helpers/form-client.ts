/**
 * A form-login client written from the HTML and HTTP alone (no gatehouse code): fetches the
 * login page, reads the hidden fields out of the HTML, keeps cookies by name, posts the form.
 */
import { request } from 'undici'

export interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

export class Jar {
  readonly cookies = new Map<string, string>()
  header(): string | undefined {
    return this.cookies.size === 0 ? undefined : [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  }
  take(setCookie: string | string[] | undefined): void {
    for (const line of setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie]) {
      const [pair, ...attrs] = line.split(';')
      const eq = pair!.indexOf('=')
      const name = pair!.slice(0, eq).trim()
      const value = pair!.slice(eq + 1).trim()
      if (value === '' || attrs.some((a) => /^\s*max-age=0\s*$/i.test(a))) this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
  }
}

export async function send(
  base: string,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string; jar?: Jar } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...opts.headers }
  const cookie = opts.jar?.header()
  if (cookie !== undefined && headers.cookie === undefined) headers.cookie = cookie
  const res = await request(`${base}${path}`, {
    method: (opts.method ?? 'GET') as 'GET',
    headers,
    ...(opts.body !== undefined ? { body: opts.body } : {}),
  })
  const body = await res.body.text()
  opts.jar?.take(res.headers['set-cookie'])
  return { status: res.statusCode, headers: res.headers, body }
}

/** The value of `<input … name="NAME" value="…">` in a page. */
export function hiddenField(html: string, name: string): string | undefined {
  const m = new RegExp(`<input[^>]*name="${name}"[^>]*value="([^"]*)"`).exec(html)
  return m?.[1]?.replace(/&#(\d+);/g, (_x, c: string) => String.fromCharCode(Number(c)))
}

export const HTML = { accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8' }

export function form(fields: Record<string, string>): {
  headers: Record<string, string>
  body: string
  method: string
} {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...HTML },
    body: new URLSearchParams(fields).toString(),
  }
}

/** Loads the login page into `jar` and posts the credentials; the answer to the POST. */
export async function login(
  base: string,
  jar: Jar,
  user: string,
  password: string,
  returnTo = '/app/',
): Promise<Answer> {
  const page = await send(base, `/.gatehouse/login?return=${encodeURIComponent(returnTo)}`, { headers: HTML, jar })
  const csrf = hiddenField(page.body, 'csrf') ?? ''
  const ret = hiddenField(page.body, 'return') ?? ''
  const f = form({ csrf, return: ret, username: user, password })
  return send(base, '/.gatehouse/login', { ...f, jar })
}
