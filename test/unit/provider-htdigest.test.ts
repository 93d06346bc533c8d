import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import createHtdigestProvider from '../../providers/htdigest/index.js'
import type { AuthContext, Provider, ProviderLog } from '../../src/providers/contract.js'
import { isGatehouseError } from '../../src/errors.js'

const HTDIGEST = '/usr/bin/htdigest'
const ctx = (realm: string): AuthContext => ({
  method: 'GET',
  path: '/',
  host: 'localhost',
  remoteAddress: '127.0.0.1',
  route: '/',
  realm,
  headers: {},
})
const md5 = (s: string): string => createHash('md5').update(s).digest('hex')

function recordingLog(): {
  log: ProviderLog
  lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }>
} {
  const lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = []
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
    void lines.push({ level, msg, fields })
  return { log: { info: at('info'), warn: at('warn'), error: at('error') }, lines }
}

async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`gave up waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('htdigest provider', () => {
  let dir: string
  let fileText: string
  const providers: Provider[] = []
  const open = async (options: Record<string, unknown>, log = recordingLog().log): Promise<Provider> => {
    const p = await createHtdigestProvider({ watchIntervalMs: 20, ...options }, { baseDir: dir, name: 'digest', log })
    providers.push(p)
    return p
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gh-htdigest-'))
    const file = join(dir, 'users.htdigest')
    if (existsSync(HTDIGEST)) {
      // htdigest reads the password twice from stdin when stdin is not a terminal.
      execFileSync(HTDIGEST, ['-c', file, 'Wiki', 'alice'], {
        input: 'correct horse\ncorrect horse\n',
        stdio: ['pipe', 'ignore', 'ignore'],
      })
      execFileSync(HTDIGEST, [file, 'Office', 'alice'], {
        input: 'other pw\nother pw\n',
        stdio: ['pipe', 'ignore', 'ignore'],
      })
      execFileSync(HTDIGEST, [file, 'Wiki', 'bob'], {
        input: 'pässwörd\npässwörd\n',
        stdio: ['pipe', 'ignore', 'ignore'],
      })
    } else {
      await writeFile(
        file,
        `alice:Wiki:${md5('alice:Wiki:correct horse')}\nalice:Office:${md5('alice:Office:other pw')}\nbob:Wiki:${md5('bob:Wiki:pässwörd')}\n`,
      )
    }
    fileText = await readFile(file, 'utf8')
    await writeFile(join(dir, 'groups'), 'staff: alice bob\n')
  })
  after(async () => {
    for (const p of providers) await p.close?.()
    await rm(dir, { recursive: true, force: true })
  })

  test('the file htdigest wrote holds MD5(user:realm:password)', () => {
    assert.match(fileText, new RegExp(`^alice:Wiki:${md5('alice:Wiki:correct horse')}$`, 'm'))
  })

  test('getRealmHash answers the MD5 HA1 per realm, and null for unknown users and realms', async () => {
    const p = await open({ file: 'users.htdigest' })
    assert.equal(await p.getRealmHash?.(ctx('Wiki'), 'alice', 'Wiki', 'MD5'), md5('alice:Wiki:correct horse'))
    assert.equal(await p.getRealmHash?.(ctx('Office'), 'alice', 'Office', 'MD5'), md5('alice:Office:other pw'))
    assert.equal(await p.getRealmHash?.(ctx('Wiki'), 'bob', 'Wiki', 'MD5'), md5('bob:Wiki:pässwörd'))
    assert.equal(await p.getRealmHash?.(ctx('Office'), 'bob', 'Office', 'MD5'), null)
    assert.equal(await p.getRealmHash?.(ctx('Wiki'), 'carol', 'Wiki', 'MD5'), null)
  })

  test('getRealmHash answers null for SHA-256 and SHA-512-256: the file holds MD5 only', async () => {
    const p = await open({ file: 'users.htdigest' })
    assert.equal(await p.getRealmHash?.(ctx('Wiki'), 'alice', 'Wiki', 'SHA-256'), null)
    assert.equal(await p.getRealmHash?.(ctx('Wiki'), 'alice', 'Wiki', 'SHA-512-256'), null)
  })

  test('checkPassword (Basic) uses the request realm: true, false, or null when the user has no entry there', async () => {
    const p = await open({ file: 'users.htdigest' })
    assert.equal(await p.checkPassword?.(ctx('Wiki'), 'alice', 'correct horse'), true)
    assert.equal(await p.checkPassword?.(ctx('Wiki'), 'alice', 'other pw'), false)
    assert.equal(await p.checkPassword?.(ctx('Office'), 'alice', 'other pw'), true)
    assert.equal(await p.checkPassword?.(ctx('Wiki'), 'bob', 'pässwörd'), true)
    assert.equal(await p.checkPassword?.(ctx('Office'), 'bob', 'pässwörd'), null)
    assert.equal(await p.checkPassword?.(ctx('Wiki'), 'carol', 'x'), null)
  })

  test('groups come from the optional group file', async () => {
    assert.deepEqual(
      await (await open({ file: 'users.htdigest', groupFile: 'groups' })).groupsForUser?.(ctx('Wiki'), 'bob'),
      ['staff'],
    )
    assert.deepEqual(await (await open({ file: 'users.htdigest' })).groupsForUser?.(ctx('Wiki'), 'bob'), [])
  })

  test('a missing file at start is GH_ERR_PROVIDER_LOAD naming the file', async () => {
    await assert.rejects(
      open({ file: 'missing.htdigest' }),
      (err: unknown) => isGatehouseError(err, 'GH_ERR_PROVIDER_LOAD') && err.message.includes('missing.htdigest'),
    )
  })

  test('a changed file is re-read; a broken one keeps the old contents and logs a warning', async () => {
    const file = join(dir, 'changing.htdigest')
    await writeFile(file, fileText)
    const { log, lines } = recordingLog()
    const p = await open({ file: 'changing.htdigest' }, log)
    await writeFile(file, `carol:Wiki:${md5('carol:Wiki:new pw')}\n`)
    await until(async () => (await p.checkPassword?.(ctx('Wiki'), 'carol', 'new pw')) === true, 'carol to appear')
    assert.equal(await p.checkPassword?.(ctx('Wiki'), 'alice', 'correct horse'), null)
    await writeFile(file, `carol:Wiki:${md5('carol:Wiki:new pw')}\ndave:Wiki:not-a-hash-secret\n`)
    await until(() => lines.some((l) => l.level === 'warn'), 'a warning')
    assert.equal(await p.checkPassword?.(ctx('Wiki'), 'carol', 'new pw'), true)
    assert.equal(lines.find((l) => l.level === 'warn')?.fields?.reason, 'line 2: expected "user:realm:md5-hex"')
    assert.doesNotMatch(JSON.stringify(lines), /not-a-hash-secret|dave/)
  })
})
