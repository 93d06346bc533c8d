/**
 * The parts of the benchmark's report after the table: the provider-call round trip (as
 * measured by bench/provider-call.ts --json), the notes of runs, and the throughput targets next
 * to the figures of this run, each marked met / not met. Reported, never enforced: the
 * benchmark does not fail on them.
 */
import type { Row } from './report.js'

export interface RoundTrips {
  callers: number
  calls: number
  p50Us: number
  p99Us: number
  maxUs: number
  callsPerSec: number
}
export interface ProviderCall {
  single: RoundTrips
  concurrent: RoundTrips
  /** The same through a Python group running a trivial mod_wsgi auth script (absent without /usr/bin/python3). */
  python?: { single: RoundTrips; concurrent: RoundTrips }
}

export interface Target {
  what: string
  goal: string
  /** The figure of this run, formatted; undefined when the run did not measure it. */
  figure?: string
  met?: boolean
}

/** Apache 2.4 + mod_wsgi in daemon mode served a hello world at about 1/5 of bare Node on the 2-vCPU machine (docs/performance.md). */
export const APACHE_DAEMON_RATIO = 0.2

const byName = (rows: Row[], name: string): Row | undefined => rows.find((r) => r.name === name)

export function targetsOf(rows: Row[], rtt: ProviderCall | undefined): Target[] {
  const hit = byName(rows, 'group-basic')
  const slow = byName(rows, 'group-basic-slow')
  const form = byName(rows, 'group-form')
  const group = byName(rows, 'group')
  const node = byName(rows, 'upstream-direct')
  const apache = group && node ? group.rps / node.rps : undefined
  const us = (v: number): string => `${v.toFixed(0)} µs`
  const upstream = byName(rows, 'upstream-basic')
  const caddy = byName(rows, 'peer-caddy-basic')
  const digest = byName(rows, 'group-digest')
  const basicNode = byName(rows, 'group-basic-node')
  const digestCost = digest && basicNode ? digest.serverUsPerReq / basicNode.serverUsPerReq : undefined
  return [
    {
      what: 'Basic (cache hit) through a daemon group, ratio to bare Fastify',
      goal: '≥ 0.60',
      ...(hit ? { figure: hit.ratio.toFixed(2), met: hit.ratio >= 0.6 } : {}),
    },
    {
      what: 'form login (session cookie) through a daemon group, ratio to Basic (cache hit)',
      goal: '≥ 0.95',
      ...(form?.also ? { figure: form.also.ratio.toFixed(2), met: form.also.ratio >= 0.95 } : {}),
    },
    {
      what: 'provider round trip p50 (one caller)',
      goal: '< 100 µs',
      ...(rtt ? { figure: us(rtt.single.p50Us), met: rtt.single.p50Us < 100 } : {}),
    },
    {
      what: 'provider round trip p99 (one caller)',
      goal: '< 1 ms',
      ...(rtt ? { figure: us(rtt.single.p99Us), met: rtt.single.p99Us < 1000 } : {}),
    },
    {
      what: 'Python check_password round trip p50 (one caller)',
      goal: '≤ 200 µs',
      ...(rtt?.python ? { figure: us(rtt.python.single.p50Us), met: rtt.python.single.p50Us <= 200 } : {}),
    },
    {
      what: 'cached Basic req/s with 100 slow logins running, ratio to without',
      goal: '≥ 0.80',
      ...(slow?.also ? { figure: slow.also.ratio.toFixed(2), met: slow.also.ratio >= 0.8 } : {}),
    },
    {
      what: `daemon group hello (no auth) vs bare node:http, ≥ 3× Apache daemon mode (${APACHE_DAEMON_RATIO})`,
      goal: `≥ ${(3 * APACHE_DAEMON_RATIO).toFixed(2)}`,
      ...(apache !== undefined
        ? {
            figure: `${apache.toFixed(2)} (${(apache / APACHE_DAEMON_RATIO).toFixed(1)}× Apache)`,
            met: apache >= 3 * APACHE_DAEMON_RATIO,
          }
        : {}),
    },
    {
      what: 'gatehouse → upstream, Basic (cache hit), ratio to the upstream hit directly',
      goal: '≥ 0.45',
      ...(upstream?.also ? { figure: upstream.also.ratio.toFixed(2), met: upstream.also.ratio >= 0.45 } : {}),
    },
    {
      what: "gatehouse → upstream, Basic (cache hit), req/s ÷ Caddy's basicauth + reverse_proxy",
      goal: '> 1',
      ...(upstream && caddy
        ? { figure: `${(upstream.rps / caddy.rps).toFixed(2)}×`, met: upstream.rps > caddy.rps }
        : {}),
    },
    {
      what: "front's CPU per request, Digest SHA-256 ÷ Basic (cache hit), same node client",
      goal: '≤ 1.3×',
      ...(digestCost !== undefined && digest && basicNode
        ? {
            figure: `${digestCost.toFixed(2)}× (${us(digest.serverUsPerReq)}/${us(basicNode.serverUsPerReq)})`,
            met: digestCost <= 1.3,
          }
        : {}),
    },
  ]
}

export function formatTargets(targets: Target[]): string {
  const lines = ['targets (reported, never enforced):']
  for (const t of targets) {
    const verdict = t.met === undefined ? 'not measured' : t.met ? 'met' : 'NOT met'
    lines.push(`  ${t.what.padEnd(78)} ${t.goal.padStart(8)}  ${(t.figure ?? '-').padStart(17)}  ${verdict}`)
  }
  return lines.join('\n')
}

/** The round trip section; calls/s are also given as a ratio to bare Fastify's requests/s. */
export function formatProviderCall(rtt: ProviderCall, bareRps: number): string {
  const line = (label: string, r: RoundTrips): string =>
    `  ${label.padEnd(46)} p50 ${r.p50Us.toFixed(0).padStart(5)} µs  p99 ${r.p99Us.toFixed(0).padStart(5)} µs  max ${r.maxUs.toFixed(0).padStart(6)} µs  ` +
    `${r.callsPerSec.toFixed(0).padStart(7)} calls/s (${(r.callsPerSec / bareRps).toFixed(2)} of bare Fastify req/s)`
  return [
    'provider call round trip (GroupProvider.checkPassword → unix socket → daemon → back; trivial provider, 1 process):',
    line(`1 caller, ${rtt.single.calls} calls`, rtt.single),
    line(`${rtt.concurrent.callers} callers, ${rtt.concurrent.calls} calls (queueing included)`, rtt.concurrent),
    ...(rtt.python
      ? [
          '  the same through a Python group (mod_wsgi auth script check_password, 1 process × 15 threads):',
          line(`1 caller, ${rtt.python.single.calls} calls`, rtt.python.single),
          line(
            `${rtt.python.concurrent.callers} callers, ${rtt.python.concurrent.calls} calls (queueing included)`,
            rtt.python.concurrent,
          ),
        ]
      : []),
  ].join('\n')
}

/**
 * Where the throughput targets stand against the two-process floor of the same run (any
 * front + daemon design pays that much here) and the CPU each request costs.
 */
export function formatBudget(rows: Row[]): string {
  const floor = byName(rows, 'floor')
  const bare = byName(rows, 'bare')
  if (floor === undefined || bare === undefined) return ''
  const cpu = (r: Row): string => `${r.serverUsPerReq.toFixed(1)} + ${(r.daemonUsPerReq ?? 0).toFixed(1)} µs`
  const lines = [
    'against the two-process floor of this run (CPU per request: front/server + daemon):',
    `  ${'bare Fastify'.padEnd(44)} ratio ${bare.ratio.toFixed(2)}  CPU ${cpu(bare)}`,
    `  ${'two-process floor (no work in either process)'.padEnd(44)} ratio ${floor.ratio.toFixed(2)}  CPU ${cpu(floor)}`,
  ]
  for (const name of ['group', 'group-basic']) {
    const r = byName(rows, name)
    if (r !== undefined)
      lines.push(
        `  ${r.label.replace('gatehouse → daemon group, ', 'gatehouse group, ').padEnd(44)} ratio ${r.ratio.toFixed(2)}  CPU ${cpu(r)}  (${(r.ratio / floor.ratio).toFixed(2)} of the floor)`,
      )
  }
  lines.push('', ...formatEventLoopBudget(rows, bare, floor))
  return lines.join('\n')
}

/**
 * What a 0.6 target leaves the front's event loop: one CPU's worth of microseconds divided by
 * the requests it must answer. The floor's front (node:http and the hop, no other work) shows
 * how much of that any front + daemon design spends before doing anything; what is left is
 * the budget for Fastify, auth, the access log, header hygiene and the IPC heads.
 */
function formatEventLoopBudget(rows: Row[], bare: Row, floor: Row): string[] {
  const target = 0.6
  const budget = 1e6 / (target * bare.rps)
  const hit = byName(rows, 'group-basic')
  return [
    `event-loop budget at ${target.toFixed(2)} of bare Fastify (${(target * bare.rps).toFixed(0)} req/s): at most ${budget.toFixed(1)} µs of the front's main thread per request`,
    `  ${'bare Fastify (its main thread)'.padEnd(44)} ${bare.mainUsPerReq.toFixed(1).padStart(5)} µs`,
    `  ${'floor front (node:http + hop, no other work)'.padEnd(44)} ${floor.mainUsPerReq.toFixed(1).padStart(5)} µs  leaves ${(budget - floor.mainUsPerReq).toFixed(1)} µs for all of gatehouse's work`,
    ...(hit
      ? [
          `  ${'gatehouse group, Basic (cache hit)'.padEnd(44)} ${hit.mainUsPerReq.toFixed(1).padStart(5)} µs  (${(hit.mainUsPerReq - floor.mainUsPerReq).toFixed(1)} µs over the floor)`,
        ]
      : []),
  ]
}

export function formatNotes(rows: Row[]): string {
  return rows
    .filter((r) => r.notes && r.notes.length > 0)
    .map((r) => `${r.name}: ${(r.notes as string[]).join('\n  ')}`)
    .join('\n')
}
