/**
 * `gatehouse check-config` opens what the configuration names, as `start` would, and reports
 * every problem of one configuration in one run with its key path and a fix (as `nginx -t`).
 * The CLI runs as a child process (bin/gatehouse.js); the certificates are made by openssl and
 * the good Django database by Django's own migrate.
 */
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { tempDir, writeFile } from '../helpers/gateway.js'
import { needs } from '../helpers/required-tool.js'
import { PYTHON } from '../helpers/python.js'

const BIN = fileURLToPath(new URL('../../bin/gatehouse.js', import.meta.url))
const haveOpenssl = spawnSync('openssl', ['version']).status === 0
const hasDjango = spawnSync(PYTHON, ['-c', 'import django'], { stdio: 'ignore' }).status === 0
const skip =
  needs(haveOpenssl, 'openssl is not installed (apt install openssl)') ||
  needs(hasDjango, `${PYTHON} cannot import django (apt install python3-django)`)

const MIGRATE = `
import sys, django
from django.conf import settings
settings.configure(DATABASES={'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': sys.argv[1]}},
                   INSTALLED_APPS=['django.contrib.contenttypes', 'django.contrib.auth'])
django.setup()
from django.core.management import call_command
call_command('migrate', verbosity=0)
`

function gh(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 })
}

function openssl(dir: string, name: string): void {
  const r = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${dir}/${name}.key`,
      '-out',
      `${dir}/${name}.crt`,
    ],
    { encoding: 'utf8' },
  )
  assert.equal(r.status, 0, r.stderr)
}

function config(parts: {
  htpasswd: string
  htdigest: string
  secret: string
  cert: string
  key: string
  app: string
  django: string
}): string {
  return `listen: { host: 127.0.0.1, port: 8443, tls: { cert: ${parts.cert}, key: ${parts.key} } }
digest: { secretFile: ${parts.secret} }
providers:
  office: { type: htpasswd, file: ${parts.htpasswd} }
  digestfile: { type: htdigest, file: ${parts.htdigest} }
  site: { type: django, database: ${parts.django} }
groups:
  wiki: { app: ${parts.app}, processes: 1 }
routes:
  - path: /office
    group: wiki
    auth: { scheme: basic, realm: Office, provider: [office, site] }
  - path: /digest
    group: wiki
    auth: { scheme: digest, realm: Office, provider: digestfile }
`
}

describe('gatehouse check-config opens every file the configuration names', { skip }, () => {
  let dir: string
  let cleanup: () => void

  before(() => {
    ;({ dir, cleanup } = tempDir('gh-checkcfg-'))
    writeFile(dir, 'good.htpasswd', 'alice:$2y$05$abcdefghijklmnopqrstuuN2yJ2uxWyvHnJ8n5vKz0b8Q3kYd3V7m\n')
    writeFile(dir, 'good.htdigest', `alice:Office:${createHash('md5').update('alice:Office:pw').digest('hex')}\n`)
    // Line 2 has no realm field: htdigest writes user:realm:hash.
    writeFile(
      dir,
      'bad.htdigest',
      `alice:Office:${createHash('md5').update('alice:Office:pw').digest('hex')}\nbob:0123456789abcdef\n`,
    )
    writeFile(dir, 'digest.secret', 'a'.repeat(64) + '\n')
    writeFile(dir, 'app.mjs', 'export default (req, res) => res.end("hi")\n')
    openssl(dir, 'one')
    openssl(dir, 'two')
    const m = spawnSync(PYTHON, ['-c', MIGRATE, `${dir}/django.sqlite3`], { encoding: 'utf8' })
    assert.equal(m.status, 0, m.stderr)
    const other = new Database(`${dir}/other.sqlite3`)
    other.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)')
    other.close()
  })
  after(() => cleanup())

  test('a configuration whose files are all there and sound prints ok with its counts, exit 0', () => {
    const file = writeFile(
      dir,
      'good.yaml',
      config({
        htpasswd: './good.htpasswd',
        htdigest: './good.htdigest',
        secret: './digest.secret',
        cert: './one.crt',
        key: './one.key',
        app: './app.mjs',
        django: './django.sqlite3',
      }),
    )
    const r = gh(['check-config', '--config', file])
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout, 'ok: 2 routes, 3 providers, 1 groups\n')
  })

  test('six broken files are each reported with their key path and a fix in one run, exit 1', () => {
    const file = writeFile(
      dir,
      'bad.yaml',
      config({
        htpasswd: './missing.htpasswd',
        htdigest: './bad.htdigest',
        secret: './missing.secret',
        cert: './one.crt',
        key: './two.key',
        app: './missing-app.mjs',
        django: './other.sqlite3',
      }),
    )
    const r = gh(['check-config', '--config', file])
    assert.equal(r.status, 1, r.stdout)
    assert.equal(r.stdout, '')
    const err = r.stderr
    assert.match(
      err,
      /providers\.office\.file: cannot read .*missing\.htpasswd: no such file\n {2}fix: create it with `htpasswd -cB /,
    )
    assert.match(
      err,
      /providers\.digestfile\.file: .*bad\.htdigest is not a valid htdigest file: line 2: expected "user:realm:md5-hex"\n {2}fix: /,
    )
    assert.match(
      err,
      /digest\.secretFile: cannot read .*missing\.secret: no such file\n {2}fix: create it with `openssl rand -hex 32 > /,
    )
    assert.match(
      err,
      /listen\.tls\.key: the private key .*two\.key does not match the certificate .*one\.crt \(CN=one\)\n {2}fix: /,
    )
    assert.match(
      err,
      /groups\.wiki\.app: cannot read .*missing-app\.mjs: no such file\n {2}fix: correct groups\.wiki\.app/,
    )
    assert.match(
      err,
      /providers\.site\.database: .*not a Django auth database \(auth_user, auth_group, auth_user_groups\).*\n {2}fix: .*manage\.py migrate/,
    )
    assert.match(err, /gatehouse: 6 problems in .*bad\.yaml/)
    // Only the six: the sound parts (the certificate, the htpasswd parser's peers) are not reported.
    assert.equal(err.match(/\n {2}fix: /g)?.length, 6, err)
  })
})
