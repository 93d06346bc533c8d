/**
 * The CLI as users run it: `node bin/gatehouse.js ...` in a child process, against the
 * reference configuration (three provider types, four route shapes) written to a file.
 */
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createServer } from 'node:net'
import { request } from 'undici'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'
import { tempDir, writeFile } from '../helpers/gateway.js'

const BIN = fileURLToPath(new URL('../../bin/gatehouse.js', import.meta.url))

function gh(args: string[], input?: string) {
  return spawnSync(process.execPath, [BIN, ...args], { input, encoding: 'utf8', timeout: 20_000 })
}

async function freePort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as { port: number }).port
  await new Promise((r) => srv.close(r))
  return port
}

let upstream: EchoUpstream
let dir: string
let cleanup: () => void

before(async () => {
  upstream = await startEchoUpstream()
  ;({ dir, cleanup } = tempDir('gh-cli-'))
  writeFile(dir, 'users.htpasswd', '')
  writeFile(dir, 'users.htdigest', '')
})
after(async () => {
  await upstream.close()
  cleanup()
})

function contractConfig(port: number): string {
  const up = upstream.url
  return `listen: { host: 127.0.0.1, port: ${port} }
providers:
  office: { type: htpasswd, file: ./users.htpasswd }
  digestfile: { type: htdigest, file: ./users.htdigest }
  local: { type: sqlite, database: ./gatehouse.sqlite }
routes:
  - path: /basic
    upstream: ${up}
    auth: { scheme: basic, realm: Office, provider: [office, local] }
  - path: /digest
    upstream: ${up}
    auth: { scheme: [digest, basic], realm: Office, provider: digestfile, require: { users: [alice] } }
  - path: /staff
    upstream: ${up}
    auth: { scheme: basic, realm: Office, provider: local, require: { groups: [staff] } }
  - path: /public
    upstream: ${up}
`
}

describe('gatehouse check-config', () => {
  test('a valid configuration prints ok and exits 0', () => {
    // check-config opens the sqlite provider's database, so it must exist.
    assert.equal(
      gh(['users', 'add', '--database', `${dir}/check.sqlite`, '--password-stdin', 'carol'], 'pw\n').status,
      0,
    )
    const file = writeFile(dir, 'ok.yaml', contractConfig(8080).replace('./gatehouse.sqlite', './check.sqlite'))
    const r = gh(['check-config', '--config', file])
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /^ok: 4 routes, 3 providers, 0 groups/)
  })

  test('every error names its key path, exit 1', () => {
    const file = writeFile(
      dir,
      'bad.yaml',
      'listen: { port: x }\nroutes:\n  - path: nope\n    auth: { scheme: ntlm, realm: R, provider: p }\n',
    )
    const r = gh(['check-config', '--config', file])
    assert.equal(r.status, 1)
    assert.match(r.stderr, /listen\.port: expected a value that must be integer/)
    assert.match(r.stderr, /routes\[0\]\.path: expected a path starting with \//)
    assert.match(r.stderr, /routes\[0\]\.auth\.scheme: expected one of "basic", "digest"/)
  })

  test('a missing file is a clear error, exit 1', () => {
    const r = gh(['check-config', '--config', `${dir}/missing.yaml`])
    assert.equal(r.status, 1)
    assert.match(r.stderr, /cannot read configuration file .*missing\.yaml: ENOENT/)
  })

  test('an unknown command is a usage error, exit 2', () => {
    const r = gh(['frobnicate'])
    assert.equal(r.status, 2)
    assert.match(r.stderr, /unknown command frobnicate/)
  })
})

describe('gatehouse users + start', () => {
  test('users added from stdin log in through `gatehouse start`; SIGTERM stops it cleanly', async () => {
    const db = `${dir}/gatehouse.sqlite`
    assert.equal(gh(['users', 'add', '--database', db, '--password-stdin', 'dave'], 'pa:ss word\n').status, 0)
    assert.equal(gh(['users', 'add-group', '--database', db, 'dave', 'staff']).status, 0)
    const list = gh(['users', 'list', '--database', db])
    assert.match(list.stdout, /dave/)
    assert.ok(!list.stdout.includes('pa:ss'))

    const port = await freePort()
    const file = writeFile(dir, 'gatehouse.yaml', contractConfig(port))
    // --config with the sqlite provider's name finds the same database.
    assert.equal(
      gh(['users', 'add', '--config', file, '--provider', 'local', '--password-stdin', 'erin'], 'erin-pw\n').status,
      0,
    )

    const child = spawn(process.execPath, [BIN, 'start', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    try {
      const deadline = Date.now() + 15_000
      while (!out.includes('listening') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
      assert.match(out, /listening on http:\/\/127\.0\.0\.1:\d+/)
      const auth = (u: string, p: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` })
      const staff = await request(`http://127.0.0.1:${port}/staff/x`, { headers: auth('dave', 'pa:ss word') })
      assert.equal(staff.statusCode, 200)
      assert.equal(JSON.parse(await staff.body.text()).headers['x-remote-user'], 'dave')
      const erin = await request(`http://127.0.0.1:${port}/staff/x`, { headers: auth('erin', 'erin-pw') })
      assert.equal(erin.statusCode, 403)
      await erin.body.text()
    } finally {
      const exited = new Promise<string>((r) => child.on('exit', (code, signal) => r(`code ${code} signal ${signal}`)))
      child.kill('SIGTERM')
      assert.equal(await exited, 'code 0 signal null', `the gateway's output:\n${out.slice(-4000)}`)
    }
    assert.ok(!out.includes('pa:ss word'), 'the password is never logged')
    assert.match(out, /"msg":"access"/)
  })
})
