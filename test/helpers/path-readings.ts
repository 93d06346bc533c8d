/**
 * How apps behind gatehouse read a request-target, written independently of src/: real parsers
 * (WHATWG URL, Node's url.parse, find-my-way) and, from their documentation, a case-insensitive
 * router that drops `;` parameters and resolves dot segments (Express and Koa routers, Tomcat and
 * Spring). Each reading dispatches to a route by longest path prefix, the way gatehouse routes.
 * Also a fast-check generator of request-targets made to confuse such readers.
 */
import { parse as legacyParse } from 'node:url'
import fc from 'fast-check'
import FindMyWay from 'find-my-way'

/** A route with the strictness of its policy: 0 public, 1 any user, 2 a group, 3 a narrower group. */
export interface LeveledRoute {
  path: string
  level: number
  caseSensitive?: boolean
}

function decodeOr(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

/** RFC 3986 §5.2.4, segment by segment; repeated slashes merged (nginx, Tomcat). */
function resolveDots(path: string): string {
  const out: string[] = []
  for (const s of path.split('/')) {
    if (s === '' || s === '.') continue
    if (s === '..') out.pop()
    else out.push(s)
  }
  return `/${out.join('/')}${/\/\.{0,2}$/.test(path) && out.length > 0 ? '/' : ''}`
}

/** Exact longest-prefix dispatch at a `/` boundary, optionally case-insensitive. */
export function dispatch(routes: readonly LeveledRoute[], path: string, ignoreCase: boolean): LeveledRoute | undefined {
  const p = ignoreCase ? path.toLowerCase() : path
  let best: LeveledRoute | undefined
  for (const r of routes) {
    const rp = ignoreCase ? r.path.toLowerCase() : r.path
    if ((rp === '/' || p === rp || p.startsWith(`${rp}/`)) && (!best || r.path.length > best.path.length)) best = r
  }
  return best
}

function withoutParams(path: string): string {
  return path
    .split('/')
    .map((s) => s.split(';')[0])
    .join('/')
}

export type Reading = { name: string; route: LeveledRoute | undefined }

/** Two real routers with the routes registered as an app would: find-my-way's defaults, and case-insensitive with `;` as a delimiter. */
export function appRouters(routes: readonly LeveledRoute[]): {
  exact: FindMyWay.Instance<FindMyWay.HTTPVersion.V1>
  lenient: FindMyWay.Instance<FindMyWay.HTTPVersion.V1>
} {
  const exact = FindMyWay<FindMyWay.HTTPVersion.V1>()
  const lenient = FindMyWay<FindMyWay.HTTPVersion.V1>({
    caseSensitive: false,
    useSemicolonDelimiter: true,
  } as FindMyWay.Config<FindMyWay.HTTPVersion.V1>)
  for (const r of routes) {
    for (const url of r.path === '/' ? ['/', '/*'] : [r.path, `${r.path}/`, `${r.path}/*`]) {
      exact.on('GET', url, () => {}, { route: r })
      lenient.on('GET', url.toLowerCase(), () => {}, { route: r })
    }
  }
  return { exact, lenient }
}

export function appReadings(
  routes: readonly LeveledRoute[],
  routers: ReturnType<typeof appRouters>,
  target: string,
  caseInsensitive: boolean,
): Reading[] {
  const out: Reading[] = []
  const add = (name: string, path: string | undefined | null, ignoreCase: boolean) => {
    if (path === undefined || path === null) return
    for (const p of new Set([path, decodeOr(path)]))
      out.push({ name: `${name} ${JSON.stringify(p)}`, route: dispatch(routes, p, ignoreCase) })
  }
  let whatwg: string | undefined
  try {
    whatwg = new URL(target, 'http://app.test').pathname
  } catch {
    /* not a URL to this parser: it serves nothing */
  }
  add('WHATWG URL', whatwg, false)
  add('url.parse', legacyParse(target).pathname, false)
  const found = routers.exact.find('GET', target)
  if (found) out.push({ name: 'find-my-way', route: (found.store as { route: LeveledRoute }).route })
  if (caseInsensitive) {
    const ci = routers.lenient.find('GET', target)
    if (ci)
      out.push({
        name: 'find-my-way (caseSensitive false, ; delimiter)',
        route: (ci.store as { route: LeveledRoute }).route,
      })
  }
  // Tomcat/Spring: ; parameters dropped before or after decoding, then dot segments resolved; Express/Koa: case-insensitive.
  const raw = target.split(/[?#]/)[0]!.replaceAll('\\', '/')
  for (const p of [
    withoutParams(decodeOr(raw)),
    decodeOr(withoutParams(raw)),
    ...(whatwg ? [withoutParams(decodeOr(whatwg))] : []),
  ]) {
    add(caseInsensitive ? 'case-insensitive, ;-stripping' : ';-stripping', resolveDots(p), caseInsensitive)
  }
  return out
}

/** Segments that name the routes, plain; and segments meant to confuse a reader. */
const PLAIN = [
  'staff',
  'public',
  'Admin',
  'api',
  'v1',
  'files.d',
  'files',
  'x',
  'index.html',
  'a.b',
  'report-2024_v2~',
  '%C3%A9t%C3%A9',
  'a;jsessionid=1',
]
const TRICKY = [
  'STAFF',
  'Staff',
  'sTaFf',
  'PUBLIC',
  'Public',
  'admin',
  'ADMIN',
  'API',
  'V1',
  'FILES.D',
  '.',
  '..',
  '...',
  '%2e',
  '%2E',
  '.%2e',
  '%2e%2E',
  '..%20',
  '.%20',
  '%2e%2e;',
  '',
  ';',
  ';x',
  'staff;x',
  'staff;jsessionid=1',
  '..;',
  '..;x',
  '.;',
  'public;a=b',
  'admin;',
  'Admin;x',
  'st%61ff',
  '%53taff',
  '%73taff',
  'ST%41FF',
  '%41dmin',
  '%61dmin',
  'admin%3bx',
  'staff%3B',
  'files%2ed',
  '%2f',
  '%2F',
  '%5c',
  '\\',
  '%00',
  '%09',
  '%23',
  '%3f',
  '%3F',
  '%25',
  '%2573taff',
  '%20',
  'staff%20',
  'staff.',
  'staff..',
  'staff%2e',
  'files.d.',
  '%C5%BFtaff',
  '%E2%84%AAx',
  '%ff',
  '%e2%82',
  '%',
  '%g1',
  'staff#',
  '#',
  '#x',
  '?',
  ':',
  '@',
  '*',
]
const segment = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...PLAIN) },
  { weight: 3, arbitrary: fc.constantFrom(...TRICKY) },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9._~%;#?:@!$&'()*+,=\\-]{0,8}$/) },
)
const separator = fc.oneof(
  { weight: 12, arbitrary: fc.constant('/') },
  { weight: 1, arbitrary: fc.constantFrom('//', '\\', '/./', '/../', '%2f', '/;/') },
)
const tail = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('', '?x=1', '?next=/staff/../x') },
  fc.constantFrom('?', '#', '?x=1', '#frag', '?a#b', '?../staff', '#/../staff'),
  fc.stringMatching(/^[?#][A-Za-z0-9/.;#?%=&]{0,8}$/),
)
/** Percent-encodes the characters at some positions, with either case of hex digits. */
const encodeSome = (s: string, picks: number[], upper: boolean) => {
  const at = new Set(picks.map((p) => p % Math.max(s.length, 1)))
  return [...s]
    .map((c, i) => (at.has(i) && i > 0 ? `%${c.charCodeAt(0).toString(16).padStart(2, '0')}` : c))
    .map((c) => (upper ? c.toUpperCase() : c))
    .join('')
}
const caseChange = (s: string, mode: number, picks: number[]) => {
  if (mode === 1) return s.toUpperCase()
  if (mode === 2) return s.toLowerCase()
  if (mode === 3) {
    const at = new Set(picks)
    return [...s].map((c, i) => (at.has(i) ? (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) : c)).join('')
  }
  return s
}
export const requestTarget = fc
  .tuple(
    fc.array(fc.tuple(separator, segment), { minLength: 1, maxLength: 5 }),
    tail,
    fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, fc.nat({ max: 4 })),
    fc.array(fc.nat({ max: 40 }), { maxLength: 3 }),
    fc.boolean(),
  )
  .map(([parts, end, mode, picks, upperHex]) => {
    let t = parts.map(([sep, seg]) => sep + seg).join('') + end
    if (!t.startsWith('/')) t = `/${t}`
    if (mode === 4) t = encodeSome(t, picks, upperHex)
    else t = caseChange(t, mode, picks)
    return t
  })
