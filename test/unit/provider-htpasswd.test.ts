import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import createHtpasswdProvider from '../../providers/htpasswd/index.js'
import type { AuthContext, Provider, ProviderLog } from '../../src/providers/contract.js'
import { isGatehouseError } from '../../src/errors.js'

const HTPASSWD = '/usr/bin/htpasswd'
const ctx: AuthContext = {
  method: 'GET',
  path: '/',
  host: 'localhost',
  remoteAddress: '127.0.0.1',
  route: '/',
  realm: 'Office',
  headers: {},
}
// "correct horse" as written by htpasswd -B -C 5 and -m (fallback when apache2-utils is absent).
const FIXED = {
  alice: '$2y$05$ORLE76KHLml81u8AjczolOveQ.GgJUtyeeprkeny2NvcILZ/ECVZ6',
  bob: '$apr1$0OoQtq2d$CqX1bCzCiEhGv9Aui73O81',
}

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

/** htpasswd -B / -m lines written by Apache's tool when installed, else the fixed vectors. */
function htpasswdLine(user: string, password: string, flags: string[]): string {
  if (!existsSync(HTPASSWD)) return `${user}:${FIXED[user as keyof typeof FIXED]}`
  return execFileSync(HTPASSWD, ['-nb', ...flags, user, password], { stdio: ['ignore', 'pipe', 'ignore'] })
    .toString()
    .trim()
}

describe('htpasswd provider', () => {
  let dir: string
  let fileText: string
  const providers: Provider[] = []
  const open = async (options: Record<string, unknown>, log = recordingLog().log): Promise<Provider> => {
    const p = await createHtpasswdProvider({ watchIntervalMs: 20, ...options }, { baseDir: dir, name: 'office', log })
    providers.push(p)
    return p
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gh-htpasswd-'))
    fileText = `# staff\n${htpasswdLine('alice', 'correct horse', ['-B', '-C', '5'])}\n\n${htpasswdLine('bob', 'correct horse', ['-m'])}\n`
    await writeFile(join(dir, 'users.htpasswd'), fileText)
    await writeFile(join(dir, 'groups'), 'staff: alice bob\nadmins: alice\n# comment\n')
  })
  after(async () => {
    for (const p of providers) await p.close?.()
    await rm(dir, { recursive: true, force: true })
  })

  test('checks passwords: true for right, false for wrong, null for unknown users', async () => {
    const p = await open({ file: 'users.htpasswd' })
    assert.equal(await p.checkPassword?.(ctx, 'alice', 'correct horse'), true)
    assert.equal(await p.checkPassword?.(ctx, 'bob', 'correct horse'), true)
    assert.equal(await p.checkPassword?.(ctx, 'alice', 'Correct horse'), false)
    assert.equal(await p.checkPassword?.(ctx, 'carol', 'correct horse'), null)
    assert.equal(await p.checkPassword?.(ctx, 'ALICE', 'correct horse'), null)
  })

  test('has no getRealmHash (Basic only) and no groups without a group file', async () => {
    const p = await open({ file: 'users.htpasswd' })
    assert.equal(p.getRealmHash, undefined)
    assert.deepEqual(await p.groupsForUser?.(ctx, 'alice'), [])
  })

  test('reads groups from an AuthGroupFile', async () => {
    const p = await open({ file: 'users.htpasswd', groupFile: 'groups' })
    assert.deepEqual(await p.groupsForUser?.(ctx, 'alice'), ['staff', 'admins'])
    assert.deepEqual(await p.groupsForUser?.(ctx, 'bob'), ['staff'])
    assert.deepEqual(await p.groupsForUser?.(ctx, 'carol'), [])
  })

  test('a missing file at start is GH_ERR_PROVIDER_LOAD naming the file', async () => {
    await assert.rejects(open({ file: 'nope.htpasswd' }), (err: unknown) => {
      assert.ok(isGatehouseError(err, 'GH_ERR_PROVIDER_LOAD'))
      assert.match(err.message, /nope\.htpasswd/)
      assert.match(err.message, /ENOENT/)
      return true
    })
    await assert.rejects(
      open({}),
      (err: unknown) => isGatehouseError(err, 'GH_ERR_PROVIDER_LOAD') && /"file"/.test(err.message),
    )
  })

  test('a file changed on disk is re-read and its contents used', async () => {
    const file = join(dir, 'changing.htpasswd')
    await writeFile(file, fileText)
    const p = await open({ file: 'changing.htpasswd' })
    assert.equal(await p.checkPassword?.(ctx, 'carol', 'battery staple'), null)
    await writeFile(
      file,
      `${htpasswdLine('alice', 'correct horse', ['-B', '-C', '5'])}\ncarol:{SHA}${sha1b64('battery staple')}\n`,
    )
    await until(async () => (await p.checkPassword?.(ctx, 'carol', 'battery staple')) === true, 'carol to appear')
    assert.equal(await p.checkPassword?.(ctx, 'bob', 'correct horse'), null)
  })

  test('a file that no longer parses keeps the old contents and logs a warning without secrets', async () => {
    const file = join(dir, 'breaking.htpasswd')
    await writeFile(file, fileText)
    const { log, lines } = recordingLog()
    const p = await open({ file: 'breaking.htpasswd' }, log)
    await writeFile(file, 'alice:$2y$05$whatever\nthis line has no colon and a secret hunter2\n')
    await until(() => lines.some((l) => l.level === 'warn'), 'a warning')
    assert.equal(await p.checkPassword?.(ctx, 'alice', 'correct horse'), true)
    assert.equal(await p.checkPassword?.(ctx, 'bob', 'correct horse'), true)
    const warning = lines.find((l) => l.level === 'warn')
    assert.match(warning?.msg ?? '', /keeping the previous contents/)
    assert.equal(warning?.fields?.reason, 'line 2: expected "user:hash"')
    assert.doesNotMatch(JSON.stringify(lines), /hunter2|\$2y\$/)
  })

  test('a deleted file keeps the old contents and logs a warning', async () => {
    const file = join(dir, 'deleted.htpasswd')
    await writeFile(file, fileText)
    const { log, lines } = recordingLog()
    const p = await open({ file: 'deleted.htpasswd' }, log)
    await rm(file)
    await until(() => lines.some((l) => l.level === 'warn' && l.fields?.reason === 'ENOENT'), 'a warning')
    assert.equal(await p.checkPassword?.(ctx, 'alice', 'correct horse'), true)
  })

  test('users with an unsupported hash format are logged once per load, without user or hash, and cannot log in', async () => {
    await writeFile(join(dir, 'odd.htpasswd'), 'dave:$y$j9T$abcdefgh$ijklmnop\nerin:plainpass\n')
    const { log, lines } = recordingLog()
    const p = await open({ file: 'odd.htpasswd' }, log)
    assert.deepEqual(
      lines.filter((l) => l.level === 'warn').map((l) => l.fields?.count),
      [2],
    )
    assert.doesNotMatch(JSON.stringify(lines), /dave|erin|plainpass|j9T/)
    assert.equal(await p.checkPassword?.(ctx, 'erin', 'plainpass'), false)
    assert.equal(await p.checkPassword?.(ctx, 'dave', 'x'), false)
  })

  test('plaintext entries verify only with the plaintext option', async () => {
    await writeFile(join(dir, 'plain.htpasswd'), 'erin:plainpass\n')
    const p = await open({ file: 'plain.htpasswd', plaintext: true })
    assert.equal(await p.checkPassword?.(ctx, 'erin', 'plainpass'), true)
    assert.equal(await p.checkPassword?.(ctx, 'erin', 'plainpasS'), false)
  })
})

function sha1b64(s: string): string {
  return createHash('sha1').update(s).digest('base64')
}
