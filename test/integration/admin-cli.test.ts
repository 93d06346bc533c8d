/**
 * `gatehouse status`, `restart`, `reload` and `stop` as operators run them: against a gateway
 * spawned as `node bin/gatehouse.js start --config FILE` (its admin on a unix socket), each
 * command a child process of its own. Uses dist/ (built by `npm test`).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn, spawnSync } from 'node:child_process'
import { promisify } from 'node:util'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { MULTI_APP, APPS, eventually } from '../fixtures/apps/harness.js'
import { tempDir } from '../helpers/gateway.js'

const BIN = fileURLToPath(new URL('../../bin/gatehouse.js', import.meta.url))

function gh(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 })
}

/** Without blocking this process's event loop (requests of the test stay in flight meanwhile). */
async function ghAsync(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
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

function config(dir: string, opts: { groupVar: string; envRoute: boolean; broken?: boolean }): string {
  return `listen: { host: 127.0.0.1, port: 0 }
admin: { socket: ./run/admin.sock }
log: { level: warn }
groups:
  app:
    app: ${MULTI_APP}
    cwd: ${APPS}
    env: { GROUP_VAR: ${opts.groupVar} }
  other:
    app: ${MULTI_APP}
    cwd: ${APPS}
routes:
  - path: /pid
    group: app
  - path: /slow
    group: app
  - path: /identity
    group: other
${opts.envRoute ? '  - path: /env\n    group: app\n' : ''}${opts.broken ? '  - path: nope\n' : ''}`
}

test('status, restart, reload and stop against a running `gatehouse start`', { timeout: 90_000 }, async (t) => {
  const { dir, cleanup } = tempDir('gh-admin-cli-')
  t.after(cleanup)
  const file = join(dir, 'gatehouse.yaml')
  writeFileSync(file, config(dir, { groupVar: 'one', envRoute: false }))
  const child = spawn(process.execPath, [BIN, 'start', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (out += d))
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })

  await eventually('the gateway to listen', () => /gatehouse admin on unix:/.test(out), 20_000)
  const base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!
  const get = async (path: string) => {
    const r = await request(`${base}${path}`)
    return { status: r.statusCode, text: await r.body.text() }
  }
  const appPid = Number((await get('/pid')).text)
  const otherPid = JSON.parse(gh(['status', '--config', file, '--json']).stdout).groups.find(
    (g: { name: string }) => g.name === 'other',
  ).processes[0].pid as number

  // status: text and JSON.
  const status = gh(['status', '--config', file])
  assert.equal(status.status, 0, status.stderr)
  assert.match(status.stdout, /^gatehouse \d+\.\d+\.\d+ {2}pid \d+ {2}http:\/\/127\.0\.0\.1:\d+ .* ready yes/)
  assert.match(status.stdout, new RegExp(`group app {2}running {2}processes 1 `))
  assert.match(status.stdout, new RegExp(`\\n +${appPid} {2}ready +0 +1 +\\d+\\.\\d MiB`))
  const json = JSON.parse(gh(['status', '--admin', join(dir, 'run', 'admin.sock'), '--json']).stdout)
  assert.equal(json.groups[0].name, 'app')
  assert.equal(json.groups[0].processes[0].pid, appPid)
  assert.equal(json.groups[0].lastReload, null)

  // restart GROUP: new processes for that group only.
  const restart = gh(['restart', 'app', '--config', file])
  assert.equal(restart.status, 0, restart.stderr)
  assert.equal(restart.stdout, 'group app restarted\n')
  const newPid = Number((await get('/pid')).text)
  assert.notEqual(newPid, appPid)
  assert.match(gh(['status', '--config', file]).stdout, /last reload: \S+ restart command/)
  const unknown = gh(['restart', 'nope', '--config', file])
  assert.equal(unknown.status, 1)
  assert.match(unknown.stderr, /restart nope: no daemon group named nope/)

  // reload: a changed group env (rolling restart of app), a new route; `other` untouched; a request in flight survives.
  assert.equal((await get('/env')).status, 404)
  const inFlight = get('/slow?ms=6000')
  // Long enough that a CLI started under load still sees it in flight (default gracefulTimeout is 15 s).
  await eventually('the slow request in flight', async () => {
    const s = JSON.parse((await ghAsync(['status', '--config', file, '--json'])).stdout)
    return s.groups
      .find((g: { name: string }) => g.name === 'app')
      .processes.some((p: { inflight: number }) => p.inflight === 1)
  })
  writeFileSync(file, config(dir, { groupVar: 'two', envRoute: true }))
  const reload = await ghAsync(['reload', '--config', file])
  assert.equal(reload.status, 0, reload.stderr)
  assert.match(reload.stdout, /^reload: applied/)
  assert.match(reload.stdout, /group app: settings changed, rolling reload done/)
  assert.match(reload.stdout, /routes and providers rebuilt/)
  assert.deepEqual(await inFlight, { status: 200, text: `slept 6000 ${newPid}` })
  const env = await get('/env')
  assert.equal(env.status, 200)
  assert.equal(JSON.parse(env.text).groupVar, 'two')
  const after = JSON.parse(gh(['status', '--config', file, '--json']).stdout)
  assert.equal(after.groups.find((g: { name: string }) => g.name === 'other').processes[0].pid, otherPid)
  assert.equal(after.groups.find((g: { name: string }) => g.name === 'app').lastReload.reason, 'configuration reload')
  assert.equal(after.lastConfigReload.ok, true)

  // An invalid file changes nothing and says why, by key.
  writeFileSync(file, config(dir, { groupVar: 'three', envRoute: true, broken: true }))
  const bad = gh(['reload', '--admin', join(dir, 'run', 'admin.sock')])
  assert.equal(bad.status, 1)
  assert.match(bad.stderr, /^reload: invalid configuration: routes\[4\]\.path: expected a path starting with \//)
  assert.equal(JSON.parse((await get('/env')).text).groupVar, 'two')

  // SIGHUP does what reload does.
  writeFileSync(file, config(dir, { groupVar: 'two', envRoute: false }))
  child.kill('SIGHUP')
  await eventually('SIGHUP to remove /env', async () => (await get('/env')).status === 404)

  // stop: graceful, the process exits 0 and the socket goes.
  const stop = gh(['stop', '--config', file])
  assert.equal(stop.status, 0, stop.stderr)
  assert.equal(stop.stdout, 'gatehouse is stopping\ngatehouse stopped\n')
  assert.equal(await exited, 0)
  const gone = gh(['status', '--config', file])
  assert.equal(gone.status, 1)
  assert.match(gone.stderr, /nothing is listening \(is gatehouse running\?\)/)
})

test('every admin command has complete --help, and gatehouse --help lists them', () => {
  const top = gh(['--help'])
  assert.equal(top.status, 0)
  for (const cmd of ['status', 'restart GROUP', 'reload', 'stop'])
    assert.match(top.stdout, new RegExp(`^  ${cmd} `, 'm'))
  for (const cmd of ['status', 'restart', 'reload', 'stop']) {
    const r = gh([cmd, '--help'])
    assert.equal(r.status, 0, cmd)
    assert.match(r.stdout, new RegExp(`^Usage: gatehouse ${cmd}`))
    assert.match(r.stdout, /--admin URL\|SOCKET/)
    assert.match(r.stdout, /--token-file FILE/)
    assert.match(r.stdout, /Exit status: 0/)
  }
  assert.equal(gh(['restart']).status, 2)
})
