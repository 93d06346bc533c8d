/**
 * examples/systemd/gatehouse.service: systemd-analyze verify accepts it with no warning (with the
 * binary path pointed at this checkout, since gatehouse is not installed here), and, without
 * systemd, every command line it runs is one the CLI accepts: the commands exist, their flags are
 * the ones the unit passes, check-config passes on a valid file with those flags, SIGHUP is the
 * documented reload signal, and the sandbox leaves the state and runtime directories writable.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { tempDir, writeFile } from '../helpers/gateway.js'
import { needs } from '../helpers/required-tool.js'

const BIN = fileURLToPath(new URL('../../bin/gatehouse.js', import.meta.url))
const UNIT_FILE = fileURLToPath(new URL('../../examples/systemd/gatehouse.service', import.meta.url))
const UNIT = readFileSync(UNIT_FILE, 'utf8')
const INSTALLED = '/usr/local/bin/gatehouse'

/** The unit's [Service] settings, each key with all its values in order (systemd's INI dialect). */
function serviceSettings(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>()
  let section = ''
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue
    const header = /^\[(.+)\]$/.exec(line)
    if (header) {
      section = header[1]!
      continue
    }
    const eq = line.indexOf('=')
    assert.ok(eq > 0, `not a key=value line: ${line}`)
    if (section !== 'Service') continue
    const key = line.slice(0, eq)
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1)])
  }
  return out
}

const service = serviceSettings(UNIT)
const one = (key: string): string => {
  const v = service.get(key)
  assert.equal(v?.length, 1, `${key} is set once`)
  return v[0]!
}

function gh(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 20_000 })
}

/** A unit command line run by the installed gatehouse: its arguments after the binary. */
function gatehouseArgs(key: string): string[] {
  const words = one(key).split(/\s+/)
  assert.equal(words[0], INSTALLED, `${key} runs ${INSTALLED}`)
  return words.slice(1)
}

test('ExecStart and ExecStartPre name gatehouse commands and only flags those commands list in --help', () => {
  const top = gh(['--help'])
  assert.equal(top.status, 0)
  for (const key of ['ExecStart', 'ExecStartPre']) {
    const [command, ...rest] = gatehouseArgs(key)
    assert.ok(command)
    assert.match(top.stdout, new RegExp(`^  ${command} `, 'm'), `gatehouse --help lists ${command}`)
    const help = gh([command, '--help'])
    assert.equal(help.status, 0, help.stderr)
    for (const flag of rest.filter((w) => w.startsWith('-')))
      assert.ok(help.stdout.includes(flag), `${command} --help mentions ${flag}`)
  }
  assert.deepEqual(gatehouseArgs('ExecStart'), ['start', '--config', '/etc/gatehouse/gatehouse.yaml'])
})

test("the unit's check-config line passes on a valid configuration and refuses a flag the CLI does not know", (t) => {
  const { dir, cleanup } = tempDir('gh-systemd-')
  t.after(cleanup)
  writeFile(dir, 'users.htpasswd', '')
  const config = join(dir, 'gatehouse.yaml')
  writeFileSync(
    config,
    `listen: { host: 127.0.0.1, port: 8080 }
providers:
  office: { type: htpasswd, file: ./users.htpasswd }
routes:
  - path: /
    upstream: http://127.0.0.1:9/
    auth: { scheme: basic, realm: Office, provider: office }
`,
  )
  const args = gatehouseArgs('ExecStartPre').map((w) => (w === '/etc/gatehouse/gatehouse.yaml' ? config : w))
  const ok = gh(args)
  assert.equal(ok.status, 0, ok.stderr)
  // The same comparison fails for a flag the command does not have: the check above can fail.
  const typo = gh([...args, '--confg', config])
  assert.equal(typo.status, 2, typo.stderr)
  assert.match(typo.stderr, /unknown flag --confg/)
})

test('reload is SIGHUP to the main process, which gatehouse start documents as its reload signal', () => {
  assert.equal(one('ExecReload'), '/bin/kill -HUP $MAINPID')
  assert.match(gh(['start', '--help']).stdout, /SIGHUP re-reads the configuration/)
  // gatehouse does not call sd_notify: a Type that waits for READY=1 would time out.
  assert.ok(['exec', 'simple'].includes(one('Type')))
})

test('the sandbox is read-only except the state and runtime directories, with no privileges to gain', () => {
  assert.equal(one('ProtectSystem'), 'strict')
  assert.equal(one('NoNewPrivileges'), 'yes')
  assert.equal(one('PrivateTmp'), 'yes')
  assert.equal(one('CapabilityBoundingSet'), '')
  assert.deepEqual(one('RestrictAddressFamilies').split(' ').sort(), ['AF_INET', 'AF_INET6', 'AF_UNIX'])
  const writable = one('ReadWritePaths').split(' ')
  assert.ok(writable.includes(`/var/lib/${one('StateDirectory')}`))
  assert.ok(writable.includes(`/run/${one('RuntimeDirectory')}`))
  assert.equal(service.has('MemoryDenyWriteExecute'), false, 'V8 needs writable executable memory')
})

const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' })
test(
  'systemd-analyze verify accepts the unit without a warning',
  { skip: needs(analyze.status === 0, 'systemd-analyze is not installed (apt install systemd)') },
  (t) => {
    const { dir, cleanup } = tempDir('gh-systemd-')
    t.after(cleanup)
    // verify checks that the binaries exist: stand in for the installed gatehouse.
    const bin = join(dir, 'gatehouse')
    writeFileSync(bin, `#!/bin/sh\nexec ${process.execPath} ${BIN} "$@"\n`)
    chmodSync(bin, 0o755)
    const unit = join(dir, 'gatehouse.service')
    writeFileSync(unit, UNIT.replaceAll(INSTALLED, bin))
    const run = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8', timeout: 60_000 })
    assert.equal(run.status, 0, run.stderr)
    assert.equal(
      run.stderr
        .split('\n')
        .filter((l) => l.includes('gatehouse.service'))
        .join('\n'),
      '',
    )
    // A misspelt key is only a warning to systemd: the stderr check above is what catches it.
    writeFileSync(unit, UNIT.replaceAll(INSTALLED, bin).replace('ProtectSystem=', 'ProtectSytem='))
    const typo = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8', timeout: 60_000 })
    assert.match(typo.stderr, /Unknown key 'ProtectSytem'/)
  },
)
