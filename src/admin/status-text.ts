/**
 * The status report as plain text (`gatehouse status`, like passenger-status), and the
 * formatting it shares with the HTML page (status-page.ts), whose values are escaped with esc().
 */
import type { Activity, StatusReport } from './status-report.js'

export function statusText(s: StatusReport): string {
  const out = [
    `gatehouse ${s.version}  pid ${s.pid}  ${s.listen}  up ${duration(s.uptimeSeconds)}  memory ${mib(s.rssBytes)}  ready ${s.ready ? 'yes' : 'no'}`,
  ]
  if (s.lastConfigReload)
    out.push(
      `last configuration reload: ${s.lastConfigReload.at} ${s.lastConfigReload.ok ? 'applied' : 'failed'}: ${s.lastConfigReload.summary}`,
    )
  if (s.activity) out.push(...activityText(s.activity))
  if (s.lockouts) {
    out.push(`locked out now: ${s.lockouts.length}`)
    for (const l of s.lockouts)
      out.push(
        `  ${l.scope.padEnd(7)}  ${l.address}${l.user !== undefined ? `  user ${l.user} (${l.providers})` : ''}  ${duration(l.secondsLeft)} left`,
      )
  }
  for (const g of s.groups) {
    out.push(
      '',
      `group ${g.name}  ${g.state}  processes ${g.min === g.max ? g.min : `${g.min}..${g.max}`}  queued ${g.queued}  restarts ${g.restarts}  reloads ${g.reloads}  recycled ${g.recycled}  spawned ${g.spawned}  retired ${g.retired}`,
    )
    out.push(`  last reload: ${g.lastReload ? `${g.lastReload.at} ${g.lastReload.reason}` : 'never'}`)
    out.push(
      `  ${'PID'.padStart(8)}  ${'STATE'.padEnd(9)}  ${'INFLIGHT'.padStart(8)}  ${'SERVED'.padStart(8)}  ${'MEMORY'.padStart(9)}  UPTIME`,
    )
    for (const p of g.processes) {
      out.push(
        `  ${String(p.pid ?? '-').padStart(8)}  ${p.state.padEnd(9)}  ${String(p.inflight).padStart(8)}  ${String(p.served).padStart(8)}  ${mib(p.rssBytes).padStart(9)}  ${duration(p.uptimeSeconds)}`,
      )
    }
  }
  return `${out.join('\n')}\n`
}

function activityText(a: Activity): string[] {
  const x = a.summary.auth
  const ratio = a.summary.cacheHitRatio === null ? '-' : `${(a.summary.cacheHitRatio * 100).toFixed(1)}%`
  const out = [
    `last ${a.summarySeconds / 60} minutes: ${a.summary.requestsPerSecond.toFixed(2)} requests/s  logins passed ${x.ok}  refused ${x.forbidden + x.bad_password + x.unknown_user + x.invalid}  throttled ${x.throttled}  provider errors ${x.error}  cache hit ratio ${ratio}`,
  ]
  for (const p of a.providers) {
    out.push(
      `  provider ${p.name}  calls ${p.calls}  failures ${p.failures}  p50 ${p.p50Ms ?? '-'} ms  p99 ${p.p99Ms ?? '-'} ms`,
    )
  }
  return out
}

export function mib(bytes: number | null): string {
  return bytes === null ? '-' : `${(bytes / 1048576).toFixed(1)} MiB`
}

export function duration(total: number): string {
  const h = Math.floor(total / 3600)
  const m = Math.floor((total % 3600) / 60)
  const sec = total % 60
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function esc(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ENTITIES[c]!)
}
