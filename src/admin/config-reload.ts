/**
 * Applies a re-read configuration to a running gateway (SIGHUP, `gatehouse reload`), without
 * closing the listening socket or dropping a request:
 *
 *  1. groups added are started; groups whose settings changed get a rolling reload onto the
 *     new settings (a failure keeps the old processes and settings); unchanged groups are
 *     not touched;
 *  2. a new front (routes, providers, credential caches, sidecar) is built and started beside
 *     the old one (with front workers: a new set of workers); if it fails, the old front keeps
 *     serving and the groups added are stopped;
 *  3. new requests go to the new front; the old one finishes its requests, then its providers
 *     close; groups removed are drained and stopped after that.
 *
 * Not applied (reported as needing a restart): listen, admin, limits, state and workers, and adding the first
 * daemon groups to a gateway started without any. Digest nonces stay valid when the digest
 * settings did not change.
 */
import type { Logger } from 'pino'
import type { Config, GroupConfig } from '../config/types.js'
import type { Supervisor } from '../daemon/supervisor.js'
import type { ReloadResult } from './admin-server.js'

export interface ReloadDeps {
  log: Logger
  supervisor: Supervisor | undefined
  /**
   * Starts the front (or front workers) for `next` beside the running one and sends new requests
   * to it; rejects, the running front untouched, if it cannot start. Resolves with the old
   * front's retirement (its requests finished, its providers closed).
   */
  swapFront(next: Config, prev: Config): Promise<{ retired: Promise<void> }>
}

const RESTART_KEYS = ['listen', 'admin', 'limits', 'state', 'workers'] as const

/** Applies `next` over the running `prev`; resolves with the configuration now running and the outcome. */
export async function applyConfig(
  prev: Config,
  next: Config,
  deps: ReloadDeps,
): Promise<{ config: Config; result: ReloadResult }> {
  const { log, supervisor } = deps
  const restartNeeded = RESTART_KEYS.filter(
    (k) => !same((prev as unknown as Record<string, unknown>)[k], (next as unknown as Record<string, unknown>)[k]),
  ).map((k) => `${k} changed: restart the gateway to apply it`)
  const changes: string[] = []
  if (prev.log.level !== next.log.level) {
    log.level = next.log.level
    changes.push(`log.level: ${next.log.level}`)
  }

  const plan = planGroups(prev.groups, next.groups)
  if (supervisor === undefined && plan.added.length > 0) {
    restartNeeded.push('groups added to a gateway started without daemon groups: restart the gateway to start them')
    return { config: prev, result: failed('nothing applied', changes, restartNeeded) }
  }
  const started: string[] = []
  try {
    for (const g of plan.added) {
      await supervisor!.add(g)
      started.push(g.name)
      changes.push(`group ${g.name}: added and started`)
    }
  } catch (err) {
    await Promise.all(started.map((name) => supervisor!.remove(name)))
    return {
      config: prev,
      result: failed(
        `group ${plan.added[started.length]!.name} did not start: ${message(err)}; nothing applied`,
        changes,
        restartNeeded,
      ),
    }
  }
  const groupFailures: string[] = []
  const keptGroups: string[] = []
  for (const g of plan.changed) {
    const ok = await supervisor!.reconfigure(g, 'configuration reload')
    if (ok) changes.push(`group ${g.name}: settings changed, rolling reload done`)
    else {
      groupFailures.push(`group ${g.name}: new processes did not start; it keeps its old settings and processes`)
      keptGroups.push(g.name)
    }
  }
  const running = runningConfig(prev, next, keptGroups)
  const ok = groupFailures.length === 0
  const outcome = (): ReloadResult => ({
    ok,
    summary: summarize(ok, changes, groupFailures),
    changes: [...changes, ...groupFailures],
    restartNeeded,
  })

  const frontChanged =
    plan.added.length + plan.changed.length + plan.removed.length > 0 || !same(frontPart(prev), frontPart(next))
  if (!frontChanged) return { config: running, result: outcome() }

  let retired: Promise<void>
  try {
    ;({ retired } = await deps.swapFront(next, prev))
  } catch (err) {
    await Promise.all(started.map((name) => supervisor!.remove(name)))
    return {
      config: prev,
      result: failed(
        `the new routes and providers did not start: ${message(err)}; the running ones keep serving`,
        [...changes, ...groupFailures],
        restartNeeded,
      ),
    }
  }
  changes.push('routes and providers rebuilt (credential cache emptied)')
  for (const name of plan.removed) changes.push(`group ${name}: removed (draining)`)
  // Removed groups stop once the old front no longer sends them anything.
  void retired.then(
    () => Promise.all(plan.removed.map((name) => supervisor?.remove(name))),
    (err: unknown) => log.error({ err: message(err) }, 'closing the replaced front failed'),
  )
  return { config: running, result: outcome() }
}

/**
 * The configuration the gateway runs after a reload, which the next reload is judged against:
 * the file's, except what needs a restart (still the values the gateway started with) and the
 * groups whose new processes did not start (still on their old settings). Judged against the
 * file instead, a second reload would no longer report a changed listen address as needing a
 * restart, and would not retry a group that kept its old settings.
 */
function runningConfig(prev: Config, next: Config, keptGroups: string[]): Config {
  const running: Record<string, unknown> = { ...next }
  for (const k of RESTART_KEYS) {
    const old = (prev as unknown as Record<string, unknown>)[k]
    if (old === undefined) delete running[k]
    else running[k] = old
  }
  if (keptGroups.length > 0) {
    const groups = { ...next.groups }
    for (const name of keptGroups) groups[name] = prev.groups[name]!
    running.groups = groups
  }
  return running as unknown as Config
}

interface GroupPlan {
  added: GroupConfig[]
  changed: GroupConfig[]
  removed: string[]
}

export function planGroups(prev: Record<string, GroupConfig>, next: Record<string, GroupConfig>): GroupPlan {
  const plan: GroupPlan = { added: [], changed: [], removed: [] }
  for (const [name, g] of Object.entries(next)) {
    const old = prev[name]
    if (old === undefined) plan.added.push(g)
    else if (!same(old, g)) plan.changed.push(g)
  }
  plan.removed = Object.keys(prev).filter((name) => !(name in next))
  return plan
}

/** Everything the front is built from, besides the groups and what needs a restart. */
function frontPart(c: Config): unknown {
  const { groups: _g, listen: _l, admin: _a, log: _log, baseDir: _b, ...rest } = c as Config & { limits?: unknown }
  delete (rest as { limits?: unknown }).limits
  delete (rest as { state?: unknown }).state
  return rest
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

function failed(summary: string, changes: string[], restartNeeded: string[]): ReloadResult {
  return { ok: false, summary, changes, restartNeeded }
}

function summarize(ok: boolean, changes: string[], failures: string[]): string {
  if (!ok) return `partly applied: ${failures.join('; ')}`
  return changes.length === 0 ? 'no changes' : `applied: ${changes.length} change${changes.length === 1 ? '' : 's'}`
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
