/**
 * A group with `user` configured never runs as root: started as root, its processes drop to
 * that user (and its primary group) before the app is loaded, and cannot regain root.
 */
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, writeFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { groupConfig, startSupervisor, tempDir, get } from '../fixtures/apps/harness.js'

const isRoot = process.getuid?.() === 0
const nobody = (() => {
  try {
    return {
      uid: Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' })),
      gid: Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' })),
    }
  } catch {
    return undefined
  }
})()

const APP = `import { readFileSync } from 'node:fs'
export default (req, res) => {
  let regained = false
  try { process.setuid(0); regained = true } catch {}
  let shadow = 'unreadable'
  try { readFileSync('/etc/shadow'); shadow = 'readable' } catch {}
  res.setHeader('content-type', 'application/json')
  res.end(JSON.stringify({ uid: process.getuid(), euid: process.geteuid(), gid: process.getgid(), groups: process.getgroups(), regained, shadow }))
}
`

describe(
  'privilege drop',
  { skip: !isRoot || !nobody ? 'needs to run as root with a user named nobody' : false },
  () => {
    test("a group with user: nobody runs its app as nobody, with nobody's group, and cannot become root again", async (t) => {
      const dir = tempDir(t, 'gh-priv-')
      chmodSync(dir, 0o755) // the dropped user must be able to read its app
      const app = join(dir, 'app.mjs')
      writeFileSync(app, APP, { mode: 0o644 })
      const sup = await startSupervisor(t, [groupConfig('dropped', { app, cwd: dir, user: 'nobody' })])
      const r = await get(sup.group('dropped'), '/')
      assert.equal(r.status, 200)
      const seen = JSON.parse(r.text)
      assert.equal(seen.uid, nobody!.uid)
      assert.equal(seen.euid, nobody!.uid)
      assert.equal(seen.gid, nobody!.gid)
      assert.ok(!seen.groups.includes(0), `supplementary groups ${seen.groups} must not include root's`)
      assert.equal(seen.regained, false)
      assert.equal(seen.shadow, 'unreadable')
    })

    test('a group naming a user that does not exist fails to start instead of running as root', async (t) => {
      const dir = tempDir(t, 'gh-priv-')
      chmodSync(dir, 0o755)
      const app = join(dir, 'app.mjs')
      writeFileSync(app, APP, { mode: 0o644 })
      await assert.rejects(
        startSupervisor(t, [groupConfig('ghost', { app, cwd: dir, user: 'no-such-user-gh' })]),
        /no-such-user-gh|unknown user|GH_ERR_GROUP/,
      )
    })

    test('started as root, a group without user is warned about by name; a group with one is not', async (t) => {
      const dir = tempDir(t, 'gh-priv-')
      chmodSync(dir, 0o755)
      const app = join(dir, 'app.mjs')
      writeFileSync(app, APP, { mode: 0o644 })
      const lines: string[] = []
      const log = pino(
        { level: 'info' },
        new Writable({
          write(chunk: Buffer, _enc, done) {
            lines.push(chunk.toString())
            done()
          },
        }),
      )
      await startSupervisor(
        t,
        [groupConfig('asroot', { app, cwd: dir }), groupConfig('dropped', { app, cwd: dir, user: 'nobody' })],
        { log },
      )
      const warnings = lines
        .map((l) => JSON.parse(l) as { level: number; group?: string; msg: string })
        .filter((l) => l.level === 40 && /run as root/.test(l.msg))
      assert.deepEqual(
        warnings.map((w) => [w.group, w.msg]),
        [
          [
            'asroot',
            "groups.asroot.user is not set: the group's processes run as root; set user (and group) to drop privileges",
          ],
        ],
      )
    })
  },
)
