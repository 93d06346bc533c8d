import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough, Readable } from 'node:stream'
import { usersCommand, type UsersIO } from '../../src/cli/commands/users.js'
import { UserStore } from '../../providers/sqlite/store.js'
import { verifyPassword } from '../../src/passwords/index.js'

interface Run {
  code: number
  stdout: string
  stderr: string
}

async function run(
  args: string[],
  stdin: NodeJS.ReadableStream = Readable.from([]),
  extra: Partial<UsersIO> = {},
): Promise<Run> {
  let stdout = ''
  let stderr = ''
  const code = await usersCommand(args, {
    stdin,
    stdout: (s) => void (stdout += s),
    stderr: (s) => void (stderr += s),
    ...extra,
  })
  return { code, stdout, stderr }
}

const lines = (...l: string[]): NodeJS.ReadableStream => Readable.from([l.join('\n') + '\n'])

describe('gatehouse users', () => {
  let dir: string
  let db: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gh-users-cli-'))
    db = join(dir, 'users.sqlite')
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  test('add reads the password from the first line of stdin and creates the database', async () => {
    const r = await run(
      ['add', '--database', db, '--password-stdin', '--bcrypt-cost', '4', '--digest-realm', 'Wiki', 'alice'],
      lines('correct horse', 'ignored second line'),
    )
    assert.deepEqual(r, { code: 0, stdout: '', stderr: '' })
    const store = UserStore.open(db)
    assert.equal(await verifyPassword(store.getUser('alice')?.hash ?? '', 'correct horse'), true)
    assert.equal(
      store.realmHash('alice', 'Wiki', 'MD5'),
      createHash('md5').update('alice:Wiki:correct horse').digest('hex'),
    )
    store.close()
  })

  test('a password on the command line is refused with a usage error (exit 2), and nothing is stored', async () => {
    const extra = await run(['add', '--database', db, 'bob', 'hunter2'])
    assert.equal(extra.code, 2)
    assert.match(extra.stderr, /add takes USER/)
    const flag = await run(['add', '--database', db, '--password', 'hunter2', 'bob'])
    assert.equal(flag.code, 2)
    assert.doesNotMatch(flag.stderr + extra.stderr, /hunter2/)
    const store = UserStore.open(db)
    assert.equal(store.getUser('bob'), undefined)
    store.close()
  })

  test('without --password-stdin and without a terminal there is no password: exit 2', async () => {
    const r = await run(['add', '--database', db, 'bob'], lines('pw'))
    assert.equal(r.code, 2)
    assert.match(r.stderr, /--password-stdin/)
  })

  test('on a terminal the password is prompted twice with echo off', async () => {
    const tty = Object.assign(new PassThrough(), {
      isTTY: true,
      rawModes: [] as boolean[],
      setRawMode(mode: boolean) {
        tty.rawModes.push(mode)
        return tty
      },
    })
    const pending = run(['add', '--database', db, '--bcrypt-cost', '4', 'bob'], tty)
    tty.write('pw1x\u007f\r')
    await new Promise((r) => setImmediate(r))
    tty.write('pw1\r')
    const r = await pending
    assert.equal(r.code, 0)
    assert.equal(r.stdout, '')
    assert.equal(r.stderr, 'New password: \nRe-type new password: \n')
    assert.deepEqual(tty.rawModes, [true, false, true, false])
    const store = UserStore.open(db)
    assert.equal(await verifyPassword(store.getUser('bob')?.hash ?? '', 'pw1'), true)
    store.close()
  })

  test('group membership, deactivate and list', async () => {
    assert.equal((await run(['add-group', '--database', db, 'alice', 'staff'])).code, 0)
    assert.equal((await run(['add-group', '--database', db, 'bob', 'staff'])).code, 0)
    assert.equal((await run(['add-group', '--database', db, 'alice', 'admins'])).code, 0)
    assert.equal((await run(['deactivate', '--database', db, 'bob'])).code, 0)
    assert.deepEqual(await run(['groups', '--database', db, 'alice']), {
      code: 0,
      stdout: 'admins\nstaff\n',
      stderr: '',
    })
    assert.deepEqual(await run(['list', '--database', db]), {
      code: 0,
      stdout: 'alice\tactive\tadmins,staff\nbob\tinactive\tstaff\n',
      stderr: '',
    })
    assert.equal((await run(['remove-group', '--database', db, 'alice', 'admins'])).code, 0)
    assert.equal((await run(['remove-group', '--database', db, 'alice', 'admins'])).code, 1)
    assert.equal((await run(['activate', '--database', db, 'bob'])).code, 0)
  })

  test('passwd changes the password and keeps the Digest realms', async () => {
    assert.equal(
      (await run(['passwd', '--database', db, '--password-stdin', '--bcrypt-cost', '4', 'alice'], lines('new horse')))
        .code,
      0,
    )
    const store = UserStore.open(db)
    assert.equal(await verifyPassword(store.getUser('alice')?.hash ?? '', 'new horse'), true)
    assert.equal(
      store.realmHash('alice', 'Wiki', 'SHA-256'),
      createHash('sha256').update('alice:Wiki:new horse').digest('hex'),
    )
    store.close()
  })

  test('failures exit 1 with a message: unknown user, existing user, empty password, missing database', async () => {
    assert.equal((await run(['passwd', '--database', db, '--password-stdin', 'carol'], lines('x'))).code, 1)
    const dup = await run(['add', '--database', db, '--password-stdin', 'alice'], lines('x'))
    assert.equal(dup.code, 1)
    assert.match(dup.stderr, /already exists/)
    assert.equal((await run(['add', '--database', db, '--password-stdin', 'dave'], lines(''))).code, 1)
    assert.equal((await run(['remove', '--database', db, 'carol'])).code, 1)
    const missing = await run(['list', '--database', join(dir, 'none.sqlite')])
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /does not exist/)
  })

  test('usage errors exit 2: no command, unknown command, no database', async () => {
    assert.equal((await run([])).code, 2)
    assert.equal((await run(['frobnicate', '--database', db])).code, 2)
    assert.equal((await run(['list'])).code, 2)
    assert.equal((await run(['--help'])).code, 0)
  })

  test('the database can come from the configuration through io.databaseFromConfig', async () => {
    const asked: Array<[string | undefined, string | undefined]> = []
    const databaseFromConfig = async (provider?: string, config?: string): Promise<string> => (
      asked.push([provider, config]),
      db
    )
    const r = await run(['list', '--config', 'gatehouse.yaml', '--provider', 'accounts'], undefined, {
      databaseFromConfig,
    })
    assert.equal(r.code, 0)
    assert.match(r.stdout, /^alice\t/)
    assert.deepEqual(asked, [['accounts', 'gatehouse.yaml']])
  })

  test('remove deletes the user', async () => {
    assert.equal((await run(['remove', '--database', db, 'bob'])).code, 0)
    assert.doesNotMatch((await run(['list', '--database', db])).stdout, /bob/)
  })
})
