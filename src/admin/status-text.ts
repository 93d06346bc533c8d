/**
 * The status report as an HTML page (/status, like Apache's mod_status) and as plain text
 * (`gatehouse status`, like passenger-status). Every value is escaped: group names and reload
 * reasons come from configuration and file names.
 */
import type { GroupReport, StatusReport } from './status-report.js'

export function statusHtml(s: StatusReport): string {
  const groups = s.groups.map(groupHtml).join('\n')
  const reload = s.lastConfigReload
    ? `${esc(s.lastConfigReload.at)}: ${s.lastConfigReload.ok ? 'applied' : 'failed'}: ${esc(s.lastConfigReload.summary)}`
    : 'none'
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gatehouse status</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1b1f24; }
h1 { font-size: 1.4rem; margin: 0 0 .5rem; } h2 { font-size: 1.1rem; margin: 1.5rem 0 .3rem; }
table { border-collapse: collapse; margin: .3rem 0; } th, td { border: 1px solid #c9d1d9; padding: .25rem .6rem; text-align: right; }
th { background: #f0f3f6; } td.l, th.l { text-align: left; } .ready { color: #1a7f37; } .bad { color: #cf222e; }
dl { display: grid; grid-template-columns: max-content auto; gap: .1rem 1rem; margin: 0; } dt { font-weight: 600; }
</style></head>
<body>
<h1>gatehouse ${esc(s.version)}</h1>
<dl id="gateway">
<dt>pid</dt><dd>${s.pid}</dd>
<dt>listening</dt><dd>${esc(s.listen)}</dd>
<dt>started</dt><dd>${esc(s.startedAt)} (up ${duration(s.uptimeSeconds)})</dd>
<dt>memory</dt><dd>${mib(s.rssBytes)}</dd>
<dt>ready</dt><dd class="${s.ready ? 'ready' : 'bad'}">${s.ready ? 'yes' : 'no'}</dd>
<dt>configuration</dt><dd>${esc(s.configFile ?? '(not from a file)')}</dd>
<dt>last configuration reload</dt><dd>${reload}</dd>
</dl>
${groups || '<p>No daemon groups.</p>'}
</body></html>
`
}

function groupHtml(g: GroupReport): string {
  const rows = g.processes.map((p) => `<tr><td>${p.pid ?? '-'}</td><td class="l ${p.state === 'ready' ? 'ready' : ''}">${esc(p.state)}</td><td>${p.inflight}</td><td>${p.served}</td><td>${mib(p.rssBytes)}</td><td>${duration(p.uptimeSeconds)}</td></tr>`).join('\n')
  const reload = g.lastReload ? `${esc(g.lastReload.at)}: ${esc(g.lastReload.reason)}` : 'never'
  return `<section class="group" data-group="${esc(g.name)}">
<h2>group ${esc(g.name)} <small>(${esc(g.state)}, processes ${g.min === g.max ? g.min : `${g.min}..${g.max}`})</small></h2>
<p>queued ${g.queued} · restarts ${g.restarts} · reloads ${g.reloads} · recycled ${g.recycled} · spawned ${g.spawned} · retired ${g.retired} · last reload: <span class="last-reload">${reload}</span></p>
<table><thead><tr><th>pid</th><th class="l">state</th><th>in flight</th><th>requests served</th><th>memory</th><th>uptime</th></tr></thead>
<tbody>
${rows}
</tbody></table>
</section>`
}

export function statusText(s: StatusReport): string {
  const out = [
    `gatehouse ${s.version}  pid ${s.pid}  ${s.listen}  up ${duration(s.uptimeSeconds)}  memory ${mib(s.rssBytes)}  ready ${s.ready ? 'yes' : 'no'}`,
  ]
  if (s.lastConfigReload) out.push(`last configuration reload: ${s.lastConfigReload.at} ${s.lastConfigReload.ok ? 'applied' : 'failed'}: ${s.lastConfigReload.summary}`)
  for (const g of s.groups) {
    out.push('', `group ${g.name}  ${g.state}  processes ${g.min === g.max ? g.min : `${g.min}..${g.max}`}  queued ${g.queued}  restarts ${g.restarts}  reloads ${g.reloads}  recycled ${g.recycled}  spawned ${g.spawned}  retired ${g.retired}`)
    out.push(`  last reload: ${g.lastReload ? `${g.lastReload.at} ${g.lastReload.reason}` : 'never'}`)
    out.push(`  ${'PID'.padStart(8)}  ${'STATE'.padEnd(9)}  ${'INFLIGHT'.padStart(8)}  ${'SERVED'.padStart(8)}  ${'MEMORY'.padStart(9)}  UPTIME`)
    for (const p of g.processes) {
      out.push(`  ${String(p.pid ?? '-').padStart(8)}  ${p.state.padEnd(9)}  ${String(p.inflight).padStart(8)}  ${String(p.served).padStart(8)}  ${mib(p.rssBytes).padStart(9)}  ${duration(p.uptimeSeconds)}`)
    }
  }
  return `${out.join('\n')}\n`
}

function mib(bytes: number | null): string {
  return bytes === null ? '-' : `${(bytes / 1048576).toFixed(1)} MiB`
}

function duration(total: number): string {
  const h = Math.floor(total / 3600)
  const m = Math.floor((total % 3600) / 60)
  const sec = total % 60
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function esc(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ENTITIES[c]!)
}
