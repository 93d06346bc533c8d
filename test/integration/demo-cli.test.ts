/**
 * `npm start` as a user runs it: `node bin/gatehouse.js demo` (the built CLI; `npm test`
 * builds first) in its own process group, as a terminal would. It prints the port and the
 * admin's password; Ctrl-C (SIGINT to the whole group) stops the front and every daemon
 * process, leaving no orphan. Linux only (reads children from /proc).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import { packageRoot } from '../../src/package-root.js'
import { tempDir } from '../helpers/gateway.js'
import { childrenOf } from '../fixtures/apps/harness.js'

const root = packageRoot()
const built = existsSync(join(root, 'dist', 'src', 'cli', 'main.js'))

/** Every process below pid: the daemons and what they started (tsx's esbuild service, on a cold cache). */
function descendantsOf(pid: number): number[] {
  const kids = childrenOf(pid)
  return kids.flatMap((k) => {
    try {
      return [k, ...descendantsOf(k)]
    } catch {
      return [k]
    }
  })
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return !/^\d+ \(.*\) Z/.test(stat) // a zombie is already dead, waiting to be reaped
  } catch {
    return false
  }
}

/** Live processes whose environment names this run's data dir (every daemon's DATA_DIR does). */
function processesWithDataDir(dir: string): number[] {
  const needle = `\0DATA_DIR=${dir}\0`
  return readdirSync('/proc')
    .filter((d) => /^[0-9]+$/.test(d))
    .map(Number)
    .filter((pid) => {
      try {
        return `\0${readFileSync(`/proc/${pid}/environ`, 'latin1')}`.includes(needle) && alive(pid)
      } catch {
        return false
      }
    })
}

test(
  'npm start prints the URL and admin password, serves the tracker, and Ctrl-C leaves no process behind',
  { skip: process.platform !== 'linux' || !built ? 'needs Linux /proc and a built dist/ (npm run build)' : false },
  async (t) => {
    const { dir, cleanup } = tempDir('gh-demo-cli-')
    t.after(cleanup)
    const child = spawn(process.execPath, [join(root, 'bin', 'gatehouse.js'), 'demo', '--port', '0', '--data', dir], {
      cwd: root,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL')
    })
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s
    })
    child.stderr.resume()
    for (let i = 0; i < 600 && !/demo user: alice/.test(out); i++) {
      if (child.exitCode !== null) break
      await sleep(25)
    }
    const url = /gatehouse demo on (http:\/\/127\.0\.0\.1:[0-9]+)/.exec(out)?.[1]
    const password = /demo user: admin password: (\S+)/.exec(out)?.[1]
    assert.ok(url && password, `banner not printed; output so far:\n${out}`)
    assert.match(out, /demo user: alice password: \S+/)

    const auth = `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`
    const r = await request(`${url}/tracker/admin`, { headers: { authorization: auth } })
    assert.equal(r.statusCode, 200)
    assert.match(await r.body.text(), /logged in as <b class="user">admin<\/b>/)

    // The daemons are the children whose environment names the data dir (DATA_DIR); the CLI may
    // also have tsx's esbuild service as a child, from loading the example's seed.ts.
    const withDataDir = new Set(processesWithDataDir(dir))
    const daemons = childrenOf(child.pid!).filter((pid) => withDataDir.has(pid))
    assert.equal(daemons.length, 4, 'two processes for each of the two groups')
    const tree = new Set(descendantsOf(child.pid!))
    assert.ok(daemons.every((d) => tree.has(d)))
    assert.deepEqual(
      processesWithDataDir(dir).filter((p) => !tree.has(p)),
      [],
      'every process with the data dir belongs to this demo',
    )
    const everything = [...tree]
    process.kill(-child.pid!, 'SIGINT')
    const [code] = await exited
    assert.equal(code, 0)
    for (let i = 0; i < 400 && everything.some(alive); i++) await sleep(25)
    assert.deepEqual(everything.filter(alive), [])
    assert.deepEqual(
      processesWithDataDir(dir),
      [],
      'no process (a respawned daemon, say) still runs with this data dir',
    )
  },
)
