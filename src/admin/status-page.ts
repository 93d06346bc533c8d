/**
 * The admin status page (/status): what an operator looks for at a glance. Traffic and
 * authentication outcomes over the last 15 minutes as inline SVG charts with their figures,
 * the credential cache's hit ratio, provider latency and failures, the lockouts in force, and
 * each daemon group's processes. Served complete (it reads without scripts), then kept live by
 * one inline script (status-page-script.ts) that redraws it from /status.json.
 *
 * Nothing is loaded from elsewhere: the style and the script are inline and the
 * Content-Security-Policy allows exactly them, by hash. Every value from configuration, file
 * names or clients (user names of lockouts) is escaped.
 */
import { createHash } from 'node:crypto'
import type { Activity, GroupReport, Lockout, StatusReport } from './status-report.js'
import { STATUS_SCRIPT } from './status-page-script.js'
import { duration, esc, mib } from './status-text.js'

const W = 180
const H = 40

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1b1f24; background: #fff; }
h1 { font-size: 1.4rem; margin: 0 0 .3rem; } h2 { font-size: 1.1rem; margin: 1.6rem 0 .4rem; }
.sub { color: #57606a; margin: 0 0 .8rem; } .sub span + span::before { content: " · "; }
table { border-collapse: collapse; margin: .3rem 0; } caption { text-align: left; color: #57606a; padding: .2rem 0; }
th, td { border: 1px solid #c9d1d9; padding: .25rem .6rem; text-align: right; vertical-align: middle; }
dl { display: grid; grid-template-columns: max-content auto; gap: .1rem 1rem; margin: 0; } dt { font-weight: 600; } dd { margin: 0; }
th { background: #f0f3f6; } td.l, th.l { text-align: left; } td.empty { color: #57606a; }
.ready { color: #1a7f37; } .bad { color: #cf222e; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(11.5rem, 1fr)); gap: .8rem; }
.card { border: 1px solid #d0d7de; border-radius: 6px; padding: .5rem .7rem; display: flex; flex-direction: column; }
.card svg.spark { margin-top: auto; padding-top: .4rem; }
.axis { display: flex; justify-content: space-between; font-size: .75rem; color: #57606a; margin: 0; }
.card h3 { font-size: .85rem; font-weight: 600; color: #57606a; margin: 0; }
.card .fig { font-size: 1.6rem; font-weight: 600; margin: .1rem 0; font-variant-numeric: tabular-nums; }
.card .note { font-size: .8rem; color: #57606a; margin: 0; }
svg.spark { display: block; width: 100%; height: 40px; }
td svg.spark { width: 10rem; height: 24px; }
svg.spark path { fill: #c8e1ff; stroke: #0969da; stroke-width: 1; vector-effect: non-scaling-stroke; }
.card.ok svg.spark path { fill: #c9f0d1; stroke: #1a7f37; }
.card.refused svg.spark path { fill: #ffe1bd; stroke: #bc4c00; }
.card.throttled svg.spark path, .card.errors svg.spark path { fill: #ffd8d3; stroke: #cf222e; }
`

const sha256 = (s: string) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`

/** Allows the page's own inline style and script and nothing else; the script may fetch /status.json. */
export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  `script-src ${sha256(STATUS_SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  "img-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

/** The chart series, as the script derives them from /status.json's activity.series. */
export function chartSeries(
  s: Activity['series'],
): Record<'requests' | 'ok' | 'refused' | 'throttled' | 'errors' | 'cache', number[]> {
  return {
    requests: s.requests,
    ok: s.ok,
    refused: s.forbidden.map((v, i) => v + s.bad_password[i]! + s.unknown_user[i]! + s.invalid[i]!),
    throttled: s.throttled,
    errors: s.error,
    cache: s.cacheHits.map((h, i) => (h + s.cacheMisses[i]! === 0 ? 0 : h / (h + s.cacheMisses[i]!))),
  }
}

/** An area chart's outline in a W×H box; `top` fixes the scale (1 for ratios), else the peak is the top. */
export function sparkPath(values: ReadonlyArray<number | null>, top = 0): string {
  const max = top || Math.max(1, ...values.map((v) => v ?? 0))
  const n = values.length
  let d = `M0 ${H}`
  values.forEach((v, i) => {
    d += ` L${(n > 1 ? (i * W) / (n - 1) : 0).toFixed(1)} ${(H - ((v ?? 0) / max) * (H - 2)).toFixed(1)}`
  })
  return `${d} L${W} ${H} Z`
}

export function statusPage(s: StatusReport): string {
  const reload = s.lastConfigReload
    ? `${esc(s.lastConfigReload.at)}: ${s.lastConfigReload.ok ? 'applied' : 'failed'}: ${esc(s.lastConfigReload.summary)}`
    : 'none'
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gatehouse status</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${STYLE}</style></head>
<body>
<header>
<h1>gatehouse ${esc(s.version)}</h1>
<p class="sub"><span>pid ${s.pid}</span><span>${esc(s.listen)}</span><span>up <span data-k="uptime">${duration(s.uptimeSeconds)}</span></span><span id="updated">snapshot</span></p>
<dl id="gateway">
<dt>memory</dt><dd data-k="memory">${mib(s.rssBytes)}</dd>
<dt>ready</dt><dd data-k="ready" class="${s.ready ? 'ready' : 'bad'}">${s.ready ? 'yes' : 'no'}</dd>
<dt>started</dt><dd>${esc(s.startedAt)}</dd>
<dt>configuration</dt><dd>${esc(s.configFile ?? '(not from a file)')}</dd>
<dt>last configuration reload</dt><dd>${reload}</dd>
</dl>
</header>
<main>
${s.activity ? activityHtml(s.activity) : ''}
${lockoutsHtml(s.lockouts)}
${s.groups.map(groupHtml).join('\n') || '<p>No daemon groups.</p>'}
</main>
<script>${STATUS_SCRIPT}</script>
</body></html>
`
}

function activityHtml(a: Activity): string {
  const x = a.summary.auth
  const series = chartSeries(a.series)
  const minutes = (a.series.requests.length * a.slotSeconds) / 60
  const last = `last ${a.summarySeconds / 60} minutes`
  const refused = x.forbidden + x.bad_password + x.unknown_user + x.invalid
  const cacheCounts = `${a.summary.cacheHits} hits, ${a.summary.cacheMisses} misses`
  const card = (k: keyof typeof series, title: string, fig: string, note: string) => `<div class="card ${k}">
<h3 id="t-${k}">${title}</h3>
<p class="fig" data-k="${k === 'requests' ? 'rps' : k}">${fig}</p>
<p class="note">${note}</p>
${spark(series[k], `${title}, per ${a.slotSeconds} s over the last ${minutes} minutes`, k === 'cache' ? 1 : 0, k)}
<p class="axis" aria-hidden="true"><span>${minutes} min ago</span><span>now</span></p>
</div>`
  return `<section id="traffic" aria-labelledby="h-traffic">
<h2 id="h-traffic">Traffic, last ${minutes} minutes</h2>
<div class="cards">
${card('requests', 'Requests per second', a.summary.requestsPerSecond.toFixed(2), `average of the ${last}`)}
${card('ok', 'Logins passed', String(x.ok), last)}
${card('refused', 'Logins refused', String(refused), `wrong password, unknown user, not allowed, malformed; ${last}`)}
${card('throttled', 'Throttled', String(x.throttled), `locked out or over a provider's limit; ${last}`)}
${card('errors', 'Provider errors', String(x.error), `failed closed (5xx); ${last}`)}
${card('cache', 'Credential cache hit ratio', pct(a.summary.cacheHitRatio), `<span data-k="cacheCounts">${cacheCounts}</span>; ${last}`)}
</div>
</section>
<section id="providers" aria-labelledby="h-providers">
<h2 id="h-providers">Providers</h2>
${table(
  `Provider calls over the ${last}: latency (p50, p99) and failures (threw or timed out)`,
  ['<provider', 'calls', 'failures', 'p50', 'p99', `<calls, last ${minutes} minutes`],
  a.providers.map((p) => [
    L(esc(p.name)),
    p.calls,
    p.failures,
    ms(p.p50Ms),
    ms(p.p99Ms),
    spark(p.series.calls, `calls to ${p.name} per ${a.slotSeconds} s`, 0),
  ]),
  'No provider was called yet.',
)}
</section>`
}

function lockoutsHtml(lockouts: Lockout[] | null | undefined): string {
  if (lockouts === undefined) return ''
  const body =
    lockouts === null
      ? '<p>Login throttling is off (<code>throttle.enabled: false</code>).</p>'
      : table(
          'Addresses and users refused with 429 until their lockout ends',
          ['<locked', '<address', '<user', '<providers', 'time left', '<until'],
          lockouts.map((l) => [
            L(l.scope),
            L(esc(l.address)),
            L(esc(l.user ?? '-')),
            L(esc(l.providers ?? '-')),
            duration(l.secondsLeft),
            L(esc(l.until)),
          ]),
          'No address or user is locked out.',
        )
  return `<section id="lockouts" aria-labelledby="h-lockouts">
<h2 id="h-lockouts">Locked out now</h2>
${body}
</section>`
}

function groupHtml(g: GroupReport): string {
  const procs = g.processes.map((p) => [
    p.pid ?? '-',
    { html: esc(p.state), cls: p.state === 'ready' ? 'l ready' : 'l' },
    p.inflight,
    p.served,
    mib(p.rssBytes),
    duration(p.uptimeSeconds),
  ])
  const reload = g.lastReload ? `${esc(g.lastReload.at)}: ${esc(g.lastReload.reason)}` : 'never'
  const name = esc(g.name)
  const counts = `queued ${g.queued} · restarts ${g.restarts} · reloads ${g.reloads} · recycled ${g.recycled} · spawned ${g.spawned} · retired ${g.retired}`
  return `<section class="group" data-group="${name}" aria-labelledby="h-group-${name}">
<h2 id="h-group-${name}">group ${name} <small class="group-state">(${esc(g.state)}, processes ${g.min === g.max ? g.min : `${g.min}..${g.max}`})</small></h2>
<p><span class="counts">${counts}</span> · last reload: <span class="last-reload">${reload}</span></p>
${table(`Processes of group ${name}`, ['pid', '<state', 'in flight', 'requests served', 'memory', 'uptime'], procs, 'No process.')}
</section>`
}

/** A cell: a number, HTML (already escaped), or HTML with its class; numbers and plain cells align right. */
type Cell = number | string | { html: string; cls: string }

/** A left-aligned cell. */
function L(html: string): Cell {
  return { html, cls: 'l' }
}

/** A table with its caption; a header starting with `<` is a left-aligned column. */
function table(caption: string, headers: string[], body: Cell[][], empty: string): string {
  const head = headers
    .map((h) => (h.startsWith('<') ? `<th class="l" scope="col">${h.slice(1)}</th>` : `<th scope="col">${h}</th>`))
    .join('')
  const cell = (c: Cell) => (typeof c === 'object' ? `<td class="${c.cls}">${c.html}</td>` : `<td>${c}</td>`)
  const rows =
    body.length > 0
      ? body.map((r) => `<tr>${r.map(cell).join('')}</tr>`).join('\n')
      : `<tr><td class="l empty" colspan="${headers.length}">${esc(empty)}</td></tr>`
  return `<table><caption>${caption}</caption>
<thead><tr>${head}</tr></thead>
<tbody>
${rows}
</tbody></table>`
}

function spark(values: ReadonlyArray<number | null>, label: string, top: number, series?: string): string {
  const peak = Math.max(0, ...values.map((v) => v ?? 0))
  const title = `${label}; peak ${top === 1 ? pct(peak) : Number(peak.toFixed(2))}`
  const data = series ? ` data-series="${series}"` : ''
  return `<svg class="spark"${data} viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img" aria-label="${esc(title)}"><path d="${sparkPath(values, top)}"/></svg>`
}

function pct(r: number | null): string {
  return r === null ? '-' : `${(r * 100).toFixed(1)}%`
}

function ms(v: number | null): string {
  return v === null ? '-' : v < 10 ? `${v.toFixed(2)} ms` : `${Math.round(v)} ms`
}
