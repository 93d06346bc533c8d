/**
 * A Python group with `user` configured never runs application code as root: started as root,
 * the worker binds its socket, drops to that user (and its primary group), checks it cannot
 * regain root, and only then executes the WSGI file.
 */
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, writeFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { groupConfig, startSupervisor, tempDir, get } from '../fixtures/apps/harness.js'
import { PYTHON, requirePython, skipWithoutPython } from '../helpers/python.js'

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

// Imported at load time: the file itself already runs as the dropped user.
const APP = `import json, os
LOADED_AS = os.geteuid()

def application(environ, start_response):
    try:
        os.setuid(0)
        regained = True
    except OSError:
        regained = False
    try:
        open('/etc/shadow').close()
        shadow = 'readable'
    except OSError:
        shadow = 'unreadable'
    body = json.dumps({'uid': os.getuid(), 'euid': os.geteuid(), 'gid': os.getgid(), 'groups': os.getgroups(),
                       'loadedAs': LOADED_AS, 'regained': regained, 'shadow': shadow}).encode()
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [body]
`

const python = (app: string, dir: string, user: string) =>
  groupConfig('py', { kind: 'python', app, cwd: dir, python: PYTHON, pythonPath: [], threads: 2, concurrency: 2, user })

describe(
  'privilege drop in a Python group',
  { skip: skipWithoutPython() || (!isRoot || !nobody ? 'needs to run as root with a user named nobody' : false) },
  () => {
    test('a Python group with user: nobody loads and runs its WSGI file as nobody and cannot become root again', async (t) => {
      requirePython()
      const dir = tempDir(t, 'gh-wsgi-priv-')
      chmodSync(dir, 0o755)
      const app = join(dir, 'app.py')
      writeFileSync(app, APP, { mode: 0o644 })
      const sup = await startSupervisor(t, [python(app, dir, 'nobody')])
      const r = await get(sup.group('py'), '/')
      assert.equal(r.status, 200)
      const seen = JSON.parse(r.text) as {
        uid: number
        euid: number
        gid: number
        groups: number[]
        loadedAs: number
        regained: boolean
        shadow: string
      }
      assert.deepEqual(
        [seen.uid, seen.euid, seen.gid, seen.loadedAs],
        [nobody!.uid, nobody!.uid, nobody!.gid, nobody!.uid],
      )
      assert.ok(!seen.groups.includes(0), `supplementary groups ${seen.groups} must not include root's`)
      assert.equal(seen.regained, false)
      assert.equal(seen.shadow, 'unreadable')
    })

    test('a Python group naming a user that does not exist fails to start instead of running as root', async (t) => {
      requirePython()
      const dir = tempDir(t, 'gh-wsgi-priv-')
      chmodSync(dir, 0o755)
      const app = join(dir, 'app.py')
      writeFileSync(app, APP, { mode: 0o644 })
      await assert.rejects(startSupervisor(t, [python(app, dir, 'no-such-user-gh')]), /no-such-user-gh|GH_ERR_GROUP/)
    })
  },
)
