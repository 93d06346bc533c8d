/**
 * Which route a request-target falls under, or why it is refused: the one rule the front
 * (server.ts) and the sidecar (forward-auth.ts) both apply, so that they cannot disagree.
 *
 * Gatehouse picks a route by path prefix; the app behind it reads the same target with its own
 * parser. Every reading an app may reasonably make must land on the route gatehouse chose,
 * otherwise the app serves a protected handler under a weaker route's policy. So a target is
 * refused (400) when:
 *  - it is not origin-form visible ASCII, or holds a `#` anywhere: a request-target never has a
 *    fragment (RFC 9112 §3.2), and parsers that stop the path at `#` (WHATWG URL, url.parse,
 *    find-my-way) read `/staff#x` as `/staff` where a literal matcher reads `/`;
 *  - its path has a bad %-escape, is not UTF-8 once decoded, still holds a %-escape once
 *    decoded (`%2573`: an app that decodes twice reads `s`), or holds, raw or encoded, a `/`
 *    that is not a separator (%2F), `\`, NUL, `#`, `?` or another control character;
 *  - it has an empty segment (`//`) or a dot segment: a segment that, once decoded and with its
 *    `;` parameters removed, is made of dots and spaces only (`..`, `%2e.`, `..;x`, `...`);
 *  - the path as sent (apps that route before decoding: Express) and the decoded path name
 *    different routes: `/%61pi` is /api decoded but / to such an app;
 *  - a lenient reading names another route: the decoded path with `;` parameters removed,
 *    trailing dots and spaces trimmed from each segment and repeated slashes merged (Tomcat,
 *    Spring, Windows servers), and unless the literally matched route says `caseSensitive`,
 *    the decoded and the lenient path case-folded (Express and Koa routers, IIS).
 * Route paths are plain (config.ts: unreserved characters, no segment ending in a dot), so
 * every reading of a route's own paths stays on that route and ordinary paths are never refused.
 */

export interface RoutePath {
  readonly path: string
  /** The app serving this route matches paths case-sensitively: case-folded readings are not checked. */
  readonly caseSensitive?: boolean
}

export type PathDecision<R> = { ok: true; route: R | undefined; path: string } | { ok: false; reason: string }
/** `raw`: the path as sent (before `?`); `path`: percent-decoded. */
export type TargetPath = { ok: true; raw: string; path: string } | { ok: false; reason: string }

/** origin-form = absolute-path [ "?" query ] (RFC 9112 §3.2.1), visible ASCII only. */
const ORIGIN_FORM = /^\/[\x21-\x7e]*$/
/** pct-encoded = "%" HEXDIG HEXDIG (RFC 3986 §2.1); any other "%" is malformed. */
const BAD_ESCAPE = /%(?![0-9A-Fa-f]{2})/
const SEPARATOR_LIKE = /%2f|%5c|%00|\\/i
const NOT_IN_A_SEGMENT = /[#?\x00-\x1f\x7f]/
/** Characters that case folding may change: ASCII capitals and anything beyond ASCII. */
const FOLDS = /[A-Z\u0080-\uffff]/
/** A %-escape left after decoding: an app that decodes twice reads another path. */
const DOUBLE_ENCODED = /%[0-9A-Fa-f]{2}/
/** A segment made only of dots and spaces (at least one dot), before its `;` parameters if any. */
const DOT_SEGMENT = /\/(?=[ .]*\.)[ .]+(;[^/]*)?(\/|$)/

/** The decoded path of a request-target, or why its syntax is refused (the first half of the rule). */
export function readTargetPath(target: string): TargetPath {
  if (!ORIGIN_FORM.test(target)) return refuse('request target must be a path')
  if (target.includes('#')) return refuse('a request target never contains # (RFC 9112 §3.2)')
  const q = target.indexOf('?')
  const raw = q === -1 ? target : target.slice(0, q)
  if (BAD_ESCAPE.test(raw)) return refuse('malformed percent-escape in the path')
  if (SEPARATOR_LIKE.test(raw)) return refuse('encoded slashes, backslashes and NUL are not allowed in the path')
  let path = raw
  if (raw.includes('%')) {
    try {
      path = decodeURIComponent(raw)
    } catch {
      return refuse('the path is not UTF-8 once decoded')
    }
    if (NOT_IN_A_SEGMENT.test(path)) return refuse('encoded #, ? and control characters are not allowed in the path')
    if (DOUBLE_ENCODED.test(path)) return refuse('double-encoded %-escapes are not allowed in the path')
  }
  if (path.includes('//')) return refuse('empty path segments (//) are not allowed')
  if (DOT_SEGMENT.test(path)) return refuse('dot segments are not allowed in the path')
  return { ok: true, raw, path }
}

/** The routes, prepared once, and the rule applied to each request-target. */
export class RouteTable<R extends RoutePath> {
  readonly #routes: readonly R[]
  readonly #paths: string[]
  readonly #folded: string[]
  /** Some route path changes when folded: folded readings must be matched even for a path that does not. */
  readonly #foldedDiffer: boolean

  constructor(routes: readonly R[]) {
    this.#routes = routes
    this.#paths = routes.map((r) => r.path)
    this.#folded = this.#paths.map(fold)
    this.#foldedDiffer = this.#folded.some((f, i) => f !== this.#paths[i])
  }

  decide(target: string): PathDecision<R> {
    const read = readTargetPath(target)
    if (!read.ok) return read
    const { raw, path } = read
    const at = longest(this.#paths, path)
    const route = this.#routes[at]
    if (raw !== path && longest(this.#paths, raw) !== at)
      return refuse('the path names another route before percent-decoding')
    const lenient = lenientPath(path)
    if (lenient !== path && longest(this.#paths, lenient) !== at)
      return refuse('the path names another route once ; parameters, trailing dots or repeated slashes are dropped')
    if (route?.caseSensitive !== true && (this.#foldedDiffer || FOLDS.test(path))) {
      const f = fold(path)
      if (longest(this.#folded, f) !== at) return refuse('the path names another route once case-folded')
      const fl = fold(lenient)
      if (fl !== f && longest(this.#folded, fl) !== at)
        return refuse('the path names another route once case-folded and ; parameters are dropped')
    }
    return { ok: true, route, path }
  }
}

/**
 * Index of the longest of `prefixes` that `path` starts with at a segment boundary; -1 for none.
 * Two prefixes of equal length (only possible folded, when config allows it for case-sensitive
 * routes) are a tie that no request resolves: -2, which never equals a literal match.
 */
function longest(prefixes: readonly string[], path: string): number {
  let best = -1
  let bestLength = -1
  for (let i = 0; i < prefixes.length; i++) {
    const p = prefixes[i]!
    const hit = p === '/' || path === p || (path.startsWith(p) && path.charCodeAt(p.length) === 0x2f)
    if (!hit) continue
    if (p.length > bestLength) {
      best = i
      bestLength = p.length
    } else if (p.length === bestLength) best = -2
  }
  return best
}

/** Simple case folding as case-insensitive matchers do it: `ſ` reads as `s`, `K` (Kelvin) as `k`. */
function fold(s: string): string {
  return s.toUpperCase().toLowerCase()
}

function withoutParams(segment: string): string {
  const i = segment.indexOf(';')
  return i === -1 ? segment : segment.slice(0, i)
}

/** `;` parameters dropped from each segment, trailing dots and spaces trimmed, empty segments merged. */
function lenientPath(path: string): string {
  if (!/[;. ](\/|$)|;/.test(path)) return path
  const out = path
    .split('/')
    .map((s) => trimDotsAndSpaces(withoutParams(s)))
    .filter((s, i, all) => s !== '' || i === all.length - 1)
  return `/${out.join('/')}`
}

/** Trailing dots and spaces off, in one backward scan (a regex anchored at $ would rescan a long run from each dot). */
function trimDotsAndSpaces(segment: string): string {
  let end = segment.length
  while (end > 0 && (segment.charCodeAt(end - 1) === 0x2e || segment.charCodeAt(end - 1) === 0x20)) end--
  return end === segment.length ? segment : segment.slice(0, end)
}

function refuse(reason: string): { ok: false; reason: string } {
  return { ok: false, reason }
}
