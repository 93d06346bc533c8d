/**
 * autocannon's CLI in a process of its own (so its work does not share the test's event loop),
 * for a bounded number of seconds against 127.0.0.1; what came back, counted by status. Load
 * tests assert these counts, never timings.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const AUTOCANNON = join(dirname(createRequire(import.meta.url).resolve('autocannon/package.json')), 'autocannon.js')

export interface LoadCounts {
  total: number
  non2xx: number
  errors: number
  timeouts: number
  statuses: Record<string, number>
}

export interface LoadOptions {
  connections: number
  seconds: number
  headers?: Record<string, string>
}

export async function loadCounts(url: string, opts: LoadOptions): Promise<LoadCounts> {
  const headerArgs = Object.entries(opts.headers ?? {}).flatMap(([name, value]) => ['-H', `${name}=${value}`])
  const args = [AUTOCANNON, '-c', String(opts.connections), '-d', String(opts.seconds), '-j', ...headerArgs, url]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'] })
  let out = ''
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString()
  })
  const [code] = await once(child, 'exit')
  assert.equal(code, 0, 'autocannon exited cleanly')
  const r = JSON.parse(out) as {
    requests: { total: number }
    non2xx: number
    errors: number
    timeouts: number
    statusCodeStats?: Record<string, { count: number }>
  }
  const statuses = Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([s, v]) => [s, v.count]))
  return { total: r.requests.total, non2xx: r.non2xx, errors: r.errors, timeouts: r.timeouts, statuses }
}
