/**
 * Fault injection on a provider's file through a real gateway: an htpasswd file deleted or
 * corrupted under a running front keeps its last good contents in force (logins neither all
 * fail nor all pass), with a warning that names the file and never its contents; a good file
 * written back takes over on its own.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import bcrypt from 'bcryptjs'
import { eventually } from '../fixtures/apps/harness.js'
import { startEchoUpstream } from '../helpers/echo-upstream.js'
import { startGateway, tempDir } from '../helpers/gateway.js'

const basic = (u: string, p: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` })
const line = (user: string, password: string) => `${user}:${bcrypt.hashSync(password, 4)}\n`

describe('a provider file that breaks under a running gateway', () => {
  test('htpasswd deleted, then corrupted: the last good contents stay in force with a warning; a good file takes over', async (t) => {
    const { dir, cleanup } = tempDir('gh-fault-file-')
    const file = join(dir, 'users.htpasswd')
    writeFileSync(file, line('alice', 'first-pw'))
    const echo = await startEchoUpstream()
    const gw = await startGateway(
      {
        throttle: { enabled: false },
        providers: { office: { type: 'htpasswd', file, watchIntervalMs: 20, threads: 1 } },
        routes: [{ path: '/app', upstream: echo.url, auth: { realm: 'Office', provider: 'office', cache: false } }],
      },
      dir,
    )
    t.after(async () => {
      await gw.close()
      await echo.close()
      cleanup()
    })
    const status = async (u: string, p: string) => (await fetch(`${gw.url}/app/x`, { headers: basic(u, p) })).status
    assert.equal(await status('alice', 'first-pw'), 200)

    rmSync(file)
    await eventually('a warning about the missing file', () =>
      gw.logs.some((l) => l.includes('htpasswd file could not be reloaded; keeping the previous contents')),
    )
    assert.equal(await status('alice', 'first-pw'), 200, 'deleted: the old contents still decide')
    assert.equal(await status('alice', 'wrong'), 401)

    const warnings = () => gw.logs.filter((l) => l.includes('could not be reloaded')).length
    const before = warnings()
    writeFileSync(`${file}.tmp`, `${line('alice', 'second-pw')}this line is not htpasswd at all\x00\n`)
    renameSync(`${file}.tmp`, file)
    await eventually('a warning about the corrupted file', () => warnings() > before)
    assert.equal(await status('alice', 'first-pw'), 200, 'corrupted: the old contents still decide')
    assert.equal(await status('alice', 'second-pw'), 401, 'nothing of the corrupted file is used')
    assert.ok(
      !gw.logs.some((l) => l.includes('this line is not htpasswd') || l.includes('$2')),
      'no file contents or hashes in the logs',
    )

    writeFileSync(`${file}.tmp`, line('alice', 'third-pw'))
    renameSync(`${file}.tmp`, file)
    await eventually('the good file is reloaded', async () => (await status('alice', 'third-pw')) === 200)
    assert.ok(gw.logs.some((l) => l.includes('htpasswd file reloaded')))
    assert.equal(await status('alice', 'first-pw'), 401)
  })
})
