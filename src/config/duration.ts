/**
 * Durations in the configuration: seconds as a number, or a string with a unit. A module of its
 * own because both parse.ts and hardening.ts read durations, and parse.ts imports hardening.ts.
 */

const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** Seconds as a number, or "250ms" / "30s" / "5m" / "1h"; the schema already checked the form. */
export function durationMs(value: number | string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value === 'number') return Math.round(value * 1000)
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)$/.exec(value)
  return m ? Math.round(Number(m[1]) * (units[m[2]!] ?? 1)) : fallback
}
