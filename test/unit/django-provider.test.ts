/**
 * providers/django against databases made by real Django (Debian's python3-django, run with
 * /usr/bin/python3): users created through Django's own API with every hasher that Django
 * can produce, and the answers of Django's own django.contrib.auth.handlers.modwsgi for the
 * same probes. The provider must give the same answers.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import Database from 'better-sqlite3'
import createDjango from '../../providers/django/index.js'
import { nodeHashPrimitives, type HashPrimitives } from '../../providers/django/hash-primitives.js'
import { createDjangoProvider, type DjangoProvider } from '../../providers/django/provider.js'
import { openSqliteUserSource } from '../../providers/django/sqlite-user-source.js'
import { isGatehouseError } from '../../src/errors.js'
import type { AuthContext, ProviderLog } from '../../src/providers/contract.js'
import { needs } from '../helpers/required-tool.js'

const PYTHON = '/usr/bin/python3'
const MAKE_DB = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/django/make-db.py')
const hasDjango = spawnSync(PYTHON, ['-c', 'import django, argon2, bcrypt'], { stdio: 'ignore' }).status === 0
const skip = needs(
  hasDjango,
  `${PYTHON} cannot import django, argon2 and bcrypt (apt install python3-django python3-argon2 python3-bcrypt)`,
)

interface MadeUser {
  username: string
  hasher: string
  algorithm: string
  active: boolean
  groups: string[]
}
interface Probe {
  username: string
  password: string
  check: boolean | null
  groups: string[]
}
interface Made {
  django: [number, number, number, string, number]
  users: MadeUser[]
  probes: Probe[]
}

const ctx: AuthContext = {
  method: 'GET',
  path: '/',
  host: '127.0.0.1',
  remoteAddress: '127.0.0.1',
  route: '/',
  realm: 'Django',
  headers: {},
}

function recordingLog(): ProviderLog & {
  lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }>
} {
  const lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = []
  return {
    lines,
    info: (msg, fields) => lines.push({ level: 'info', msg, fields }),
    warn: (msg, fields) => lines.push({ level: 'warn', msg, fields }),
    error: (msg, fields) => lines.push({ level: 'error', msg, fields }),
  }
}

function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex')
}

describe('providers/django on a database made by Django', { skip }, () => {
  let dir: string
  let database: string
  let made: Made
  let provider: DjangoProvider
  let log: ReturnType<typeof recordingLog>

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-django-'))
    database = join(dir, 'db.sqlite3')
    const { stdout } = await promisify(execFile)(PYTHON, [MAKE_DB, database], { maxBuffer: 16 * 1024 * 1024 })
    made = JSON.parse(stdout) as Made
    log = recordingLog()
    provider = (await createDjango(
      { database: 'db.sqlite3' },
      { baseDir: dir, name: 'djangosite', log },
    )) as DjangoProvider
  })

  after(async () => {
    await provider?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  test('the database holds a user for every hasher Django 3.2 can produce', () => {
    assert.equal(made.django[0], 3)
    const hashers = new Set(made.users.map((u) => u.hasher))
    for (const h of [
      'pbkdf2_sha256',
      'pbkdf2_sha1',
      'argon2',
      'argon2i-legacy',
      'bcrypt_sha256',
      'bcrypt',
      'sha1',
      'md5',
      'unsalted_sha1',
      'unsalted_md5',
      'md5$$-legacy',
      'crypt',
    ]) {
      assert.ok(hashers.has(h), h)
    }
    const stored = new Database(database, { readonly: true })
    const rows = stored.prepare('SELECT username, password FROM auth_user').all() as Array<{
      username: string
      password: string
    }>
    stored.close()
    const byName = new Map(rows.map((r) => [r.username, r.password]))
    assert.match(byName.get('carol') ?? '', /^argon2\$argon2id\$v=19\$m=102400,t=2,p=8\$/)
    assert.match(byName.get('dave') ?? '', /^bcrypt_sha256\$\$2b\$12\$/)
    assert.match(byName.get('judy') ?? '', /^crypt\$\$[./0-9A-Za-z]{13}$/)
    assert.match(byName.get('ivan') ?? '', /^[0-9a-f]{32}$/)
  })

  test("checkPassword answers what Django's modwsgi.check_password answers, for every probe", async () => {
    assert.ok(made.probes.length > 100)
    for (const probe of made.probes) {
      const answer = await provider.checkPassword(ctx, probe.username, probe.password)
      assert.equal(
        answer,
        probe.check,
        `check_password(${JSON.stringify(probe.username)}, <password #${made.probes.indexOf(probe)}>)`,
      )
    }
  })

  test("groupsForUser answers what Django's modwsgi.groups_for_user answers (as strings), for every probe", async () => {
    for (const probe of made.probes) {
      assert.deepEqual(await provider.groupsForUser(ctx, probe.username), probe.groups, probe.username)
    }
  })

  test('an inactive user is no such user, with no groups, even with the right password', async () => {
    assert.equal(await provider.checkPassword(ctx, 'mallory', 'inactive-pass'), null)
    assert.deepEqual(await provider.groupsForUser(ctx, 'mallory'), [])
  })

  test('an unusable password is a wrong password (false), and its groups still count', async () => {
    assert.equal(await provider.checkPassword(ctx, 'oscar', 'unusable-pass'), false)
    assert.deepEqual(await provider.groupsForUser(ctx, 'oscar'), ['staff'])
  })

  test('the username lookup is exact and case-sensitive', async () => {
    assert.equal(await provider.checkPassword(ctx, 'alice', 'correct horse'), true)
    assert.equal(await provider.checkPassword(ctx, 'Alice', 'correct horse'), null)
    assert.equal(await provider.checkPassword(ctx, 'alice ', 'correct horse'), null)
    assert.equal(await provider.checkPassword(ctx, 'ali%', 'correct horse'), null)
  })

  test('a stored hash of an unknown algorithm is logged once, by algorithm name, without the hash or password', async () => {
    await provider.checkPassword(ctx, 'trent', 'unknown-algo')
    await provider.checkPassword(ctx, 'trent', 'unknown-algo-2')
    const warnings = log.lines.filter((l) => l.level === 'warn')
    assert.equal(warnings.length, 1)
    assert.equal(warnings[0]?.fields?.algorithm, 'sha512')
    const text = JSON.stringify(log.lines)
    assert.ok(!text.includes('somesalt') && !text.includes('abab') && !text.includes('unknown-algo'))
  })

  test('the provider has no getRealmHash: Digest cannot be served from one-way Django hashes', () => {
    assert.equal('getRealmHash' in provider, false)
  })

  test('a successful login with a legacy hash leaves the database untouched (read-only; Django would upgrade it)', async () => {
    const before = sha256File(database)
    assert.equal(await provider.checkPassword(ctx, 'grace', 'md5-pass'), true)
    assert.equal(await provider.checkPassword(ctx, 'erin', 'bcrypt-pass'), true)
    assert.equal(sha256File(database), before)
  })

  describe('unknown, inactive and wrong-password answers run the same hashing work (CVE-2025-13473)', () => {
    let counted: DjangoProvider
    const calls: string[] = []

    before(() => {
      const primitives: HashPrimitives = {
        ...nodeHashPrimitives,
        pbkdf2: (digest, password, salt, iterations, keyLength) => {
          calls.push(`pbkdf2_${digest}:${iterations}`)
          return nodeHashPrimitives.pbkdf2(digest, password, salt, iterations, keyLength)
        },
        argon2: (variant, password, salt, cost) => {
          calls.push(`${variant}:${cost.memorySize}`)
          return nodeHashPrimitives.argon2(variant, password, salt, cost)
        },
        bcrypt: (password, setting) => {
          calls.push(`bcrypt:${setting.slice(4, 6)}`)
          return nodeHashPrimitives.bcrypt(password, setting)
        },
      }
      counted = createDjangoProvider({ source: openSqliteUserSource(database), log: recordingLog(), primitives })
    })
    after(() => counted.close())

    async function work(user: string, password: string): Promise<{ answer: boolean | null; calls: string[] }> {
      calls.length = 0
      const answer = await counted.checkPassword(ctx, user, password)
      return { answer, calls: [...calls] }
    }

    const ONE_DEFAULT_HASH = ['pbkdf2_sha256:260000']

    test('unknown user: null after exactly one pbkdf2_sha256 of 260000 iterations', async () => {
      assert.deepEqual(await work('nobody', 'whatever'), { answer: null, calls: ONE_DEFAULT_HASH })
    })
    test('inactive user: null after exactly one pbkdf2_sha256 of 260000 iterations', async () => {
      assert.deepEqual(await work('mallory', 'wrong'), { answer: null, calls: ONE_DEFAULT_HASH })
      assert.deepEqual(await work('mallory', 'inactive-pass'), { answer: null, calls: ONE_DEFAULT_HASH })
    })
    test('wrong password: false after exactly one pbkdf2_sha256 of 260000 iterations', async () => {
      assert.deepEqual(await work('alice', 'wrong'), { answer: false, calls: ONE_DEFAULT_HASH })
    })
    test('unusable password and unknown algorithm: false after the same one hash', async () => {
      assert.deepEqual(await work('oscar', 'wrong'), { answer: false, calls: ONE_DEFAULT_HASH })
      assert.deepEqual(await work('trent', 'wrong'), { answer: false, calls: ONE_DEFAULT_HASH })
      assert.deepEqual(await work('walter', ''), { answer: false, calls: ONE_DEFAULT_HASH })
    })
    test('wrong password on an older 100000-iteration hash: topped up to 260000 in total', async () => {
      assert.deepEqual(await work('peggy', 'wrong'), {
        answer: false,
        calls: ['pbkdf2_sha256:100000', 'pbkdf2_sha256:160000'],
      })
    })
    test("right password: true after the user's own hash only", async () => {
      assert.deepEqual(await work('alice', 'correct horse'), { answer: true, calls: ONE_DEFAULT_HASH })
      assert.deepEqual(await work('carol', 'argon-pass'), { answer: true, calls: ['argon2id:102400'] })
      assert.deepEqual(await work('dave', 'bcrypt-sha-pass'), { answer: true, calls: ['bcrypt:12'] })
    })
  })
})

describe('providers/django options and failures', () => {
  const env = { baseDir: tmpdir(), name: 'djangosite', log: recordingLog() }

  test('a missing database option is refused by name', async () => {
    await assert.rejects(
      createDjango({} as never, env),
      (err: unknown) =>
        isGatehouseError(err, 'GH_ERR_OPT_INVALID') && /providers\.djangosite\.database/.test(err.message),
    )
  })

  test('a pepper option is refused by name', async () => {
    await assert.rejects(
      createDjango({ database: 'x.sqlite3', pepper: 'p' } as never, env),
      (err: unknown) =>
        isGatehouseError(err, 'GH_ERR_OPT_INVALID') && /providers\.djangosite\.pepper/.test(err.message),
    )
  })

  test('a database file that does not exist fails at start, not on the first login', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-django-'))
    try {
      await assert.rejects(createDjango({ database: 'absent.sqlite3' }, { ...env, baseDir: dir }), (err: unknown) =>
        isGatehouseError(err, 'GH_ERR_USERSTORE_FAILED'),
      )
      assert.throws(() => readFileSync(join(dir, 'absent.sqlite3')), { code: 'ENOENT' })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test("a SQLite file without Django's auth tables is refused at start", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-django-'))
    try {
      const path = join(dir, 'other.sqlite3')
      const db = new Database(path)
      db.exec('CREATE TABLE t (x)')
      db.close()
      await assert.rejects(
        createDjango({ database: path }, env),
        (err: unknown) =>
          isGatehouseError(err, 'GH_ERR_USERSTORE_FAILED') && /not a Django auth database/.test(err.message),
      )
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('a file that is not SQLite at all is refused at start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-django-'))
    try {
      const path = join(dir, 'junk.sqlite3')
      writeFileSync(path, 'not a database, just text '.repeat(100))
      await assert.rejects(createDjango({ database: path }, env), (err: unknown) =>
        isGatehouseError(err, 'GH_ERR_USERSTORE_FAILED'),
      )
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
