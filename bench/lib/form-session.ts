/**
 * Signs in once through a front's login page, as a browser would (GET the page, read its CSRF
 * token, POST the form with the pre-session cookie), and returns the session cookie the load
 * then presents on every request.
 */
export async function formSessionCookie(
  front: string,
  returnTo: string,
  user: string,
  password: string,
): Promise<string> {
  const page = await fetch(new URL(`/.gatehouse/login?return=${encodeURIComponent(returnTo)}`, front), {
    headers: { accept: 'text/html' },
  })
  const html = await page.text()
  const pre = page.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .join('; ')
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1]
  if (csrf === undefined || pre === '') throw new Error(`no login form at ${front} (status ${page.status})`)
  const res = await fetch(new URL('/.gatehouse/login', front), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: pre },
    body: new URLSearchParams({ csrf, return: returnTo, username: user, password }).toString(),
  })
  const session = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .find((c) => /^gatehouse_session=./.test(c))
  if (res.status !== 303 || session === undefined) throw new Error(`login refused: status ${res.status}`)
  return session
}
