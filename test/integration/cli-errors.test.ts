/**
 * What an operator reads when the CLI cannot do what was asked: the last line starts with
 * `gatehouse:` and names the configuration key or the flag and what to do, instead of Node's
 * `listen EADDRINUSE`, `ENOENT` or the argument parser's text. Real child processes
 * (bin/gatehouse.js); the port in use is held by a server this test starts on 127.0.0.1.
 */
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { createServer, type Server } from 'node:net'
import { fileURLToPath } from 'node:url'
import { tempDir, writeFile } from '../helpers/gateway.js'

const BIN = fileURLToPath(new URL('../../bin/gatehouse.js', import.meta.url))

function gh(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 })
}

/** `start` is expected to fail; run it without a sync timeout so a hang is seen as one. */
function ghStart(args: string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`start did not exit: ${stderr}`))
    }, 30_000)
    child.on('exit', (status) => {
      clearTimeout(timer)
      resolveRun({ status, stderr })
    })
  })
}

function lastLine(s: string): string {
  return s.trimEnd().split('\n').at(-1) ?? ''
}

const ROUTES = 'routes:\n  - path: /\n    upstream: http://127.0.0.1:9\n'

describe('CLI errors name the key or flag and what to do', () => {
  let dir: string
  let cleanup: () => void
  let holder: Server
  let heldPort: number

  before(async () => {
    ;({ dir, cleanup } = tempDir('gh-clierr-'))
    holder = createServer()
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r))
    heldPort = (holder.address() as { port: number }).port
  })
  after(async () => {
    await new Promise((r) => holder.close(r))
    cleanup()
  })

  test('start on a port another process holds ends with a gatehouse: line naming listen.port, exit 1', async () => {
    const file = writeFile(dir, 'busy.yaml', `listen: { host: 127.0.0.1, port: ${heldPort} }\n${ROUTES}`)
    const r = await ghStart(['start', '--config', file])
    assert.equal(r.status, 1, r.stderr)
    assert.equal(
      lastLine(r.stderr),
      `gatehouse: listen.port: 127.0.0.1:${heldPort} is already in use by another process; stop that process or set listen.port to a free port`,
    )
    assert.doesNotMatch(r.stderr, /EADDRINUSE/)
  })

  test('start with a TLS certificate file that is not there names listen.tls.cert, exit 1', async () => {
    const file = writeFile(
      dir,
      'tls.yaml',
      `listen: { host: 127.0.0.1, port: 0, tls: { cert: ./absent.crt, key: ./absent.key } }\n${ROUTES}`,
    )
    const r = await ghStart(['start', '--config', file])
    assert.equal(r.status, 1, r.stderr)
    assert.match(
      lastLine(r.stderr),
      /^gatehouse: listen\.tls\.cert: cannot read .*absent\.crt: no such file; correct listen\.tls\.cert /,
    )
    assert.doesNotMatch(r.stderr, /ENOENT/)
  })

  test('a mistyped flag names the flag and the one meant, exit 2', () => {
    const r = gh(['start', '--confg', `${dir}/busy.yaml`])
    assert.equal(r.status, 2)
    assert.equal(
      lastLine(r.stderr),
      'gatehouse: unknown flag --confg for start; did you mean --config? (`gatehouse start --help` lists its flags)',
    )
    const users = gh(['users', 'list', '--databse', `${dir}/x.sqlite`])
    assert.equal(users.status, 2)
    assert.equal(
      lastLine(users.stderr),
      'gatehouse: unknown flag --databse for users; did you mean --database? (`gatehouse users --help` lists its flags)',
    )
    const status = gh(['status', '--jsno'])
    assert.equal(status.status, 2)
    assert.match(lastLine(status.stderr), /^gatehouse: unknown flag --jsno for status; did you mean --json\?/)
  })

  test('a flag without its value says which value is missing, exit 2', () => {
    const r = gh(['check-config', '--config'])
    assert.equal(r.status, 2)
    assert.equal(
      lastLine(r.stderr),
      'gatehouse: flag --config needs a value (--config VALUE) (`gatehouse check-config --help` lists its flags)',
    )
  })

  test('users list on a missing database says so and how to create it, without a stray "undefined"', () => {
    const r = gh(['users', 'list', '--database', `${dir}/missing.sqlite`])
    assert.equal(r.status, 1)
    assert.match(
      r.stderr,
      /missing\.sqlite: database does not exist \(`gatehouse users add USER --database PATH` creates it/,
    )
    assert.doesNotMatch(r.stderr, /undefined/)
  })

  test("a YAML syntax error keeps the yaml library's line, column and snippet", () => {
    const file = writeFile(dir, 'broken.yaml', `listen: { host: 127.0.0.1, port: 1\n${ROUTES}`)
    for (const cmd of ['check-config', 'start']) {
      const r = gh([cmd, '--config', file])
      assert.equal(r.status, 1, `${cmd}: ${r.stderr}`)
      assert.match(
        r.stderr,
        /at line 2, column 1:\n\nlisten: \{ host: 127\.0\.0\.1, port: 1\nroutes:\n\^/,
        `${cmd}: ${r.stderr}`,
      )
    }
  })
})
