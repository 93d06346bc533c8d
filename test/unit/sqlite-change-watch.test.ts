/**
 * SqliteChangeWatch on real SQLite files, polled by hand (check()) so nothing waits on a timer:
 * what counts as a change (a commit by another connection, a file replaced by a rename), what
 * does not (reads, a commit outside the fingerprint), and that a lock or a failed reopen is
 * survived without a report.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { copyFileSync, renameSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { SqliteChangeWatch, type SqliteChangeWatchOptions } from '../../src/providers/sqlite-change-watch.js'
import { djangoAuthFingerprint } from '../../providers/django/sqlite-user-source.js'
import { parseConfig } from '../../src/config/parse.js'
import { tempDir } from '../helpers/gateway.js'

interface Recorded {
  changes: number
  replaced: number
  warnings: Array<Record<string, unknown> | undefined>
}

function watch(
  t: { after(fn: () => void): void },
  path: string,
  extra: Partial<SqliteChangeWatchOptions> = {},
): { watch: SqliteChangeWatch; seen: Recorded } {
  const seen: Recorded = { changes: 0, replaced: 0, warnings: [] }
  const w = SqliteChangeWatch.open({
    path,
    intervalMs: 3_600_000,
    log: { info: () => {}, warn: (_m, f) => seen.warnings.push(f), error: () => {} },
    onReplaced: () => void seen.replaced++,
    onChange: () => void seen.changes++,
    ...extra,
  })
  t.after(() => w.close())
  return { watch: w, seen }
}

/** Django's auth tables (as its migrations make them, trimmed) and a sessions table, one user. */
function djangoLike(path: string): Database.Database {
  const db = new Database(path)
  db.exec(`
    CREATE TABLE auth_user (id INTEGER PRIMARY KEY, username TEXT UNIQUE NOT NULL, password TEXT NOT NULL, is_active INTEGER NOT NULL, last_login TEXT);
    CREATE TABLE auth_group (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL);
    CREATE TABLE auth_user_groups (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, group_id INTEGER NOT NULL);
    CREATE TABLE django_session (session_key TEXT PRIMARY KEY, session_data TEXT, expire_date TEXT);
    INSERT INTO auth_user (username, password, is_active) VALUES ('alice', 'pbkdf2_sha256$1$salt$hash', 1);
    INSERT INTO auth_group (name) VALUES ('staff');
  `)
  return db
}

describe('SqliteChangeWatch', () => {
  for (const mode of ['delete', 'wal'] as const) {
    test(`journal_mode=${mode}: a commit by another connection is reported once; reads and quiet polls are not`, (t) => {
      const { dir, cleanup } = tempDir()
      t.after(cleanup)
      const path = join(dir, 'users.sqlite')
      const writer = new Database(path)
      t.after(() => writer.close())
      writer.pragma(`journal_mode = ${mode}`)
      writer.exec('CREATE TABLE users (name TEXT, hash TEXT)')
      const { watch: w, seen } = watch(t, path)

      w.check()
      writer.prepare('SELECT * FROM users').all()
      w.check()
      assert.equal(seen.changes, 0)
      writer.prepare("INSERT INTO users VALUES ('alice', 'x')").run()
      w.check()
      w.check()
      assert.equal(seen.changes, 1)
      writer.transaction(() => {
        writer.prepare("UPDATE users SET hash = 'y'").run()
        writer.prepare("INSERT INTO users VALUES ('bob', 'z')").run()
      })()
      w.check()
      assert.deepEqual(
        { changes: seen.changes, replaced: seen.replaced, warnings: seen.warnings.length },
        { changes: 2, replaced: 0, warnings: 0 },
      )
    })
  }

  test('with the Django fingerprint, last_login and session writes are not changes; a password, active flag or group is', (t) => {
    const { dir, cleanup } = tempDir()
    t.after(cleanup)
    const path = join(dir, 'db.sqlite3')
    const site = djangoLike(path)
    t.after(() => site.close())
    const { watch: w, seen } = watch(t, path, { fingerprint: djangoAuthFingerprint })

    site.prepare("UPDATE auth_user SET last_login = '2026-12-07T10:00:00Z' WHERE username = 'alice'").run()
    site.prepare("INSERT INTO django_session VALUES ('k', 'data', '2026-12-08')").run()
    w.check()
    assert.equal(seen.changes, 0, "the site's own traffic does not empty the cache")

    const changes: Array<[string, string]> = [
      ['password', "UPDATE auth_user SET password = 'pbkdf2_sha256$1$salt$other' WHERE username = 'alice'"],
      ['is_active', "UPDATE auth_user SET is_active = 0 WHERE username = 'alice'"],
      ['group added', 'INSERT INTO auth_user_groups (user_id, group_id) VALUES (1, 1)'],
      ['group renamed', "UPDATE auth_group SET name = 'admins'"],
      ['user added', "INSERT INTO auth_user (username, password, is_active) VALUES ('bob', 'x', 1)"],
    ]
    for (const [what, sql] of changes) {
      const before = seen.changes
      site.exec(sql)
      w.check()
      assert.equal(seen.changes, before + 1, what)
    }
  })

  test("a file replaced by a rename: onReplaced, then onChange; the new file's commits are seen afterwards", (t) => {
    const { dir, cleanup } = tempDir()
    t.after(cleanup)
    const path = join(dir, 'db.sqlite3')
    djangoLike(path).close()
    const { watch: w, seen } = watch(t, path)
    const order: string[] = []
    const ordered = watch(t, path, {
      onReplaced: () => void order.push('replaced'),
      onChange: () => void order.push('change'),
    })

    copyFileSync(path, `${path}.new`)
    renameSync(`${path}.new`, path)
    w.check()
    ordered.watch.check()
    assert.deepEqual([seen.replaced, seen.changes], [1, 1])
    assert.deepEqual(order, ['replaced', 'change'])

    const db = new Database(path)
    t.after(() => db.close())
    db.exec('UPDATE auth_user SET is_active = 0')
    w.check()
    assert.deepEqual([seen.replaced, seen.changes], [1, 2])
  })

  test('a failing reopen keeps the old file and retries on the next poll; it is warned about once', (t) => {
    const { dir, cleanup } = tempDir()
    t.after(cleanup)
    const path = join(dir, 'db.sqlite3')
    djangoLike(path).close()
    let fail = true
    const { watch: w, seen } = watch(t, path, {
      onReplaced: () => {
        if (fail) throw Object.assign(new Error('boom'), { code: 'EBOOM' })
        seen.replaced++
      },
    })

    copyFileSync(path, `${path}.new`)
    renameSync(`${path}.new`, path)
    w.check()
    w.check()
    assert.deepEqual([seen.replaced, seen.changes, seen.warnings.length], [0, 0, 1])
    assert.equal(seen.warnings[0]?.reason, 'EBOOM')
    fail = false
    w.check()
    assert.deepEqual([seen.replaced, seen.changes], [1, 1])
  })

  test('a database locked by a writer is skipped without a warning, and the commit is reported once the lock goes', (t) => {
    const { dir, cleanup } = tempDir()
    t.after(cleanup)
    const path = join(dir, 'db.sqlite3')
    const writer = djangoLike(path)
    t.after(() => {
      if (writer.inTransaction) writer.exec('ROLLBACK')
      writer.close()
    })
    const { watch: w, seen } = watch(t, path, { fingerprint: djangoAuthFingerprint })

    writer.exec('BEGIN EXCLUSIVE')
    writer.exec('UPDATE auth_user SET is_active = 0')
    w.check()
    assert.deepEqual([seen.changes, seen.warnings.length], [0, 0])
    writer.exec('COMMIT')
    w.check()
    assert.equal(seen.changes, 1)
  })

  test('close() stops the polls and is idempotent', (t) => {
    const { dir, cleanup } = tempDir()
    t.after(cleanup)
    const path = join(dir, 'db.sqlite3')
    const writer = djangoLike(path)
    t.after(() => writer.close())
    const { watch: w, seen } = watch(t, path)
    w.close()
    w.close()
    writer.exec('UPDATE auth_user SET is_active = 0')
    w.check()
    assert.equal(seen.changes, 0)
  })

  test('watchIntervalMs of a sqlite or django provider is validated by name in the configuration', () => {
    for (const type of ['sqlite', 'django']) {
      const ok = parseConfig(
        { providers: { p: { type, database: 'db', watchIntervalMs: 250 } }, routes: [] },
        { baseDir: '/etc/gh' },
      )
      assert.equal(ok.providers.p?.options.watchIntervalMs, 250)
      for (const bad of [5, 1.5, '1s']) {
        assert.throws(
          () =>
            parseConfig(
              { providers: { p: { type, database: 'db', watchIntervalMs: bad } }, routes: [] },
              { baseDir: '/etc/gh' },
            ),
          /providers\.p\.watchIntervalMs/,
        )
      }
    }
  })
})
