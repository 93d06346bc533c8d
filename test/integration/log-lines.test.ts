/**
 * The log of a representative `gatehouse start` (a Node and a Python daemon group, a provider,
 * logins accepted and refused, a daemon crash with a stack trace, `gatehouse reload`) as a
 * machine reads it: every line one JSON object, each key once; a child's multi-line output one
 * record; a refused login's access line names the attempted user and why, never the password.
 * Uses dist/ (built by `npm test`).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { request as httpRequest } from 'node:http'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { request } from 'undici'
import { eventually } from '../fixtures/apps/harness.js'
import { tempDir } from '../helpers/gateway.js'
import { logRecords } from '../helpers/json-keys.js'
import { PYTHON, skipWithoutPython } from '../helpers/python.js'

const BIN = fileURLToPath(new URL('../../bin/gatehouse.js', import.meta.url))
const FIXTURES = fileURLToPath(new URL('../fixtures/logs/', import.meta.url))
const PASSWORD = 'correct-horse-7Q'
const WRONG = 'not-the-password-9Z'
const GUESS = 'guessed-secret-4K'

async function gh(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], {
      encoding: 'utf8',
      timeout: 60_000,
    })
    return { status: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { status: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

function config(port: number | 0): string {
  return `listen: { host: 127.0.0.1, port: ${port} }
admin: { socket: ./run/admin.sock }
log: { level: info }
providers:
  office: { type: htpasswd, file: ./users.htpasswd }
groups:
  node:
    app: ${join(FIXTURES, 'noisy.ts')}
    cwd: ${FIXTURES}
  python:
    wsgi: ${join(FIXTURES, 'noisy.py')}
    python: ${PYTHON}
routes:
  - { path: /pid, group: node }
  - { path: /warn, group: node }
  - { path: /trace, group: node }
  - { path: /crash, group: node }
  - { path: /py, group: python }
  - path: /private
    group: python
    auth: { scheme: basic, realm: Office, provider: office }
`
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
}

function adminGet(socket: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    httpRequest({ socketPath: socket, path }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (body += d))
      res.on('end', () => resolve(body))
    })
      .on('error', reject)
      .end()
  })
}

test(
  'every log line of a representative gateway is one JSON object with each key once, and records read as operators need',
  { timeout: 120_000, skip: skipWithoutPython() },
  async (t) => {
    const { dir, cleanup } = tempDir('gh-log-lines-')
    t.after(cleanup)
    writeFileSync(join(dir, 'users.htpasswd'), `alice:{SHA}${createHash('sha1').update(PASSWORD).digest('base64')}\n`)
    const file = join(dir, 'gatehouse.yaml')
    writeFileSync(file, config(0))
    const child = spawn(process.execPath, [BIN, 'start', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
    t.after(() => {
      if (child.exitCode === null) child.kill('SIGKILL')
    })
    await eventually('the gateway to listen', () => /gatehouse admin on unix:/.test(err), 30_000)
    const base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(err)![1]!
    const port = Number(new URL(base).port)
    const get = async (path: string, authorization?: string) => {
      const r = await request(`${base}${path}`, authorization === undefined ? {} : { headers: { authorization } })
      return { status: r.statusCode, text: await r.body.text() }
    }

    // Logins: accepted, wrong password, unknown user (a quote and a backslash in the name), malformed.
    assert.deepEqual(await get('/private', basic('alice', PASSWORD)), { status: 200, text: 'python alice' })
    const wrong = await get('/private', basic('alice', WRONG))
    const unknown = await get('/private', basic('mal"lo\\ry', GUESS))
    assert.equal(wrong.status, 401)
    assert.equal(unknown.status, 401)
    // The client cannot tell the two apart.
    assert.equal(wrong.text, unknown.text)
    assert.equal((await get('/private', 'Basic !!!not-base64')).status, 400)

    // Multi-line output of both kinds of daemon, and a crash with a stack trace.
    assert.equal((await get('/warn')).text, 'warned')
    assert.equal((await get('/trace')).text, 'traced')
    assert.equal((await get('/py/traceback')).text, 'python -')
    assert.equal((await get('/py/stderr')).text, 'python -')
    const crashedPid = Number((await get('/pid')).text)
    assert.equal((await get('/crash')).text, 'crashing')
    await eventually(
      'the crashed process replaced',
      async () => {
        const r = await get('/pid').catch(() => undefined)
        return r?.status === 200 && Number(r.text) !== crashedPid
      },
      30_000,
    )

    // `gatehouse reload`, twice with a changed listen port: both times judged against the running port.
    writeFileSync(file, config(port + 1 === 65536 ? port - 1 : port + 1))
    const first = await gh(['reload', '--config', file, '--json'])
    const second = await gh(['reload', '--config', file, '--json'])
    for (const r of [first, second]) {
      assert.equal(r.status, 0, r.stderr)
      assert.deepEqual(JSON.parse(r.stdout).restartNeeded, ['listen changed: restart the gateway to apply it'])
    }
    const metrics = await adminGet(join(dir, 'run', 'admin.sock'), '/metrics')
    assert.match(metrics, /^gatehouse_config_reloads_total\{result="ok"\} 2$/m)

    const stop = await gh(['stop', '--config', file])
    assert.equal(stop.status, 0, stop.stderr)
    assert.equal(await exited, 0)

    // Every line, every key once (JSON.parse alone would keep the last of two).
    const records = logRecords(out)
    assert.ok(records.length > 20, `only ${records.length} log lines`)
    for (const secret of [PASSWORD, WRONG, GUESS])
      assert.ok(!out.includes(secret) && !err.includes(secret), `${secret} in the log`)

    const access = records.filter((r) => r.msg === 'access' && r.url === '/private')
    assert.deepEqual(
      access.map((r) => [r.status, r.user, r.refused, r.attemptedUser]),
      [
        [200, 'alice', undefined, undefined],
        [401, '-', 'wrong-password', 'alice'],
        [401, '-', 'unknown-user', 'mal"lo\\ry'],
        [400, '-', 'malformed', undefined],
      ],
    )
    // Escaped in the line itself: the name cannot break the line or forge a field.
    assert.ok(out.includes('"attemptedUser":"mal\\"lo\\\\ry"'))

    const one = (what: string, pick: (r: Record<string, unknown>) => boolean): Record<string, unknown> => {
      const found = records.filter(pick)
      assert.equal(found.length, 1, `${what}: ${found.length} records: ${JSON.stringify(found)}`)
      return found[0]!
    }
    const text = (r: Record<string, unknown>) => String(r.msg)
    const warning = one('the Node warning', (r) => text(r).includes('the noisy warning'))
    assert.match(text(warning), /NoisyWarning: the noisy warning\n\(Use `node --trace-warnings/)
    assert.equal(warning.group, 'node')
    assert.equal(warning.stream, 'stderr')
    const trace = one('the logged stack trace', (r) => text(r).includes('the logged failure'))
    assert.match(text(trace), /^Error: the logged failure\n {4}at /)
    const crash = one('the uncaught exception', (r) => text(r).includes('the uncaught failure'))
    assert.match(text(crash), /Error: the uncaught failure\n {4}at /)
    assert.equal(crash.pid, crashedPid)
    const errorsTrace = one('the traceback on wsgi.errors', (r) => r.stream === 'wsgi.errors')
    assert.match(
      text(errorsTrace),
      /^Traceback \(most recent call last\):\n {2}File .*\n[\s\S]*ValueError: the python failure$/,
    )
    assert.equal(errorsTrace.group, 'python')
    const stderrTrace = one(
      'the traceback on stderr',
      (r) => r.stream === 'stderr' && text(r).includes('the python failure'),
    )
    assert.match(text(stderrTrace), /^Traceback \(most recent call last\):\n[\s\S]*ValueError: the python failure$/)
    // Continuation lines never became records of their own.
    assert.deepEqual(
      records.filter((r) => /^\s+(at |File )/.test(text(r))),
      [],
    )

    const reloads = records.filter((r) => String(r.msg).startsWith('configuration reload:'))
    assert.equal(reloads.length, 2)
    for (const r of reloads) assert.equal(r.reason, 'admin reload')
  },
)
