/** The configuration of WSGI groups (groups.NAME.wsgi and its keys): defaults, and errors that name the key. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseConfig } from '../../src/config/parse.js'

function errorOf(groups: Record<string, unknown>): string {
  try {
    parseConfig({ groups, routes: [] }, { baseDir: '/etc/gh' })
  } catch (err) {
    assert.equal((err as { code: string }).code, 'GH_ERR_CONFIG_INVALID')
    return (err as Error).message
  }
  throw new Error('expected GH_ERR_CONFIG_INVALID')
}

test('a wsgi group is a python group: the file, interpreter and path are resolved, threads default to 15 and are its concurrency', () => {
  const { groups } = parseConfig(
    { routes: [], groups: { site: { wsgi: './site/wsgi.py', python: './venv/bin/python', pythonPath: ['./site'] } } },
    { baseDir: '/etc/gh' },
  )
  const g = groups.site!
  assert.deepEqual(
    {
      kind: g.kind,
      app: g.app,
      python: g.python,
      pythonPath: g.pythonPath,
      threads: g.threads,
      concurrency: g.concurrency,
    },
    {
      kind: 'python',
      app: '/etc/gh/site/wsgi.py',
      python: '/etc/gh/venv/bin/python',
      pythonPath: ['/etc/gh/site'],
      threads: 15,
      concurrency: 15,
    },
  )
  const bare = parseConfig(
    { routes: [], groups: { site: { wsgi: 'app.py', python: 'python3.11', threads: 4 } } },
    { baseDir: '/etc/gh' },
  ).groups.site!
  assert.deepEqual([bare.python, bare.threads, bare.concurrency], ['python3.11', 4, 4])
  const node = parseConfig({ routes: [], groups: { web: { app: 'app.mjs' } } }, { baseDir: '/etc/gh' }).groups.web!
  assert.deepEqual([node.kind, node.app, node.concurrency], ['node', '/etc/gh/app.mjs', 100])
})

test('each misuse of the wsgi keys is refused with the key path named', () => {
  assert.match(
    errorOf({ site: { app: 'a.mjs', wsgi: 'a.py' } }),
    /groups\.site: give exactly one of app \(a Node app\) or wsgi/,
  )
  assert.match(errorOf({ site: { processes: 2 } }), /groups\.site: give exactly one of app/)
  assert.match(errorOf({ site: { app: 'a.mjs', python: 'python3' } }), /groups\.site\.python: only with wsgi/)
  assert.match(errorOf({ site: { app: 'a.mjs', threads: 4 } }), /groups\.site\.threads: only with wsgi/)
  assert.match(errorOf({ site: { app: 'a.mjs', pythonPath: ['x'] } }), /groups\.site\.pythonPath: only with wsgi/)
  assert.match(errorOf({ site: { wsgi: 'a.py', node: '/usr/bin/node' } }), /groups\.site\.node: only with app/)
  assert.match(errorOf({ site: { wsgi: 'a.py', execArgv: ['--x'] } }), /groups\.site\.execArgv: only with app/)
  assert.match(errorOf({ site: { wsgi: 'a.py', concurrency: 4 } }), /groups\.site\.concurrency: with wsgi, set threads/)
  assert.match(errorOf({ site: { wsgi: 'a.py', threads: 0 } }), /groups\.site\.threads: expected/)
  assert.match(errorOf({ site: { wsgi: '' } }), /groups\.site\.wsgi: expected/)
  assert.match(errorOf({ site: { wsgi: 'a.py', pythonPath: 'x' } }), /groups\.site\.pythonPath: expected/)
  assert.match(
    errorOf({ site: { wsgi: 'a.py', provider: 'auth.wsgi', providerOptions: { a: 1 } } }),
    /groups\.site\.providerOptions: only with app/,
  )
})
