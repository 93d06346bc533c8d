/**
 * gatehouse's own user store on better-sqlite3: users with bcrypt hashes, an active flag,
 * groups, and Digest HA1 values per realm for MD5, SHA-256 and SHA-512-256. WAL mode, a busy
 * timeout, and migrations tracked in PRAGMA user_version. Hashing here is synchronous
 * (bcryptjs hashSync): the store is written by the CLI, never on a request path.
 */
import { createHash } from 'node:crypto'
import { closeSync, existsSync, openSync } from 'node:fs'
import Database from 'better-sqlite3'
import { errors } from '../../src/errors.js'
import type { DigestAlgorithm } from '../../src/providers/contract.js'
import { DEFAULT_BCRYPT_COST, hashBcryptSync } from '../../src/passwords/index.js'
import { MIGRATIONS, SCHEMA_VERSION } from './schema.js'

export const DIGEST_ALGORITHMS: readonly DigestAlgorithm[] = ['MD5', 'SHA-256', 'SHA-512-256']
const NODE_HASH: Record<DigestAlgorithm, string> = { MD5: 'md5', 'SHA-256': 'sha256', 'SHA-512-256': 'sha512-256' }

export interface UserStoreOptions {
  /** Create the database (mode 0600) and its schema when missing. Default false. */
  create?: boolean
  /** bcrypt cost for passwords set through this store. Default 10. */
  bcryptCost?: number
  /** SQLite busy timeout. Default 5000 ms. */
  busyTimeoutMs?: number
}

export interface StoredUser {
  name: string
  hash: string
  active: boolean
}

/** User names: what Basic's user-id allows (no colon, RFC 7617) and no control characters. */
const USER_NAME = /^[^\x00-\x1f\x7f:]{1,255}$/
/** Group names: one word, as in an AuthGroupFile line. */
const GROUP_NAME = /^[^\s\x00-\x1f\x7f:]{1,255}$/

export function realmHa1(user: string, realm: string, password: string, algorithm: DigestAlgorithm): string {
  return createHash(NODE_HASH[algorithm]).update(`${user}:${realm}:${password}`, 'utf8').digest('hex')
}

export class UserStore {
  readonly #db: Database.Database
  readonly #path: string
  readonly #cost: number

  private constructor(db: Database.Database, path: string, cost: number) {
    this.#db = db
    this.#path = path
    this.#cost = cost
  }

  static open(path: string, opts: UserStoreOptions = {}): UserStore {
    // No options argument without a cause: the error table would print a stray argument as "undefined".
    const fail = (what: string, cause?: unknown): Error =>
      cause === undefined
        ? errors.GH_ERR_USERSTORE_FAILED(path, what)
        : errors.GH_ERR_USERSTORE_FAILED(path, what, { cause })
    if (!existsSync(path)) {
      if (opts.create !== true)
        throw fail(
          "database does not exist (`gatehouse users add USER --database PATH` creates it; check --database or the provider's database key)",
        )
      try {
        closeSync(openSync(path, 'wx', 0o600))
      } catch (err) {
        throw fail(`cannot create: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, err)
      }
    }
    let db: Database.Database
    try {
      db = new Database(path, { fileMustExist: true, timeout: opts.busyTimeoutMs ?? 5000 })
      db.pragma('journal_mode = WAL')
      db.pragma('foreign_keys = ON')
      migrate(db, fail)
    } catch (err) {
      if ((err as { code?: string }).code === 'GH_ERR_USERSTORE_FAILED') throw err
      throw fail(`cannot open: ${(err as Error).message}`, err)
    }
    return new UserStore(db, path, opts.bcryptCost ?? DEFAULT_BCRYPT_COST)
  }

  get path(): string {
    return this.#path
  }

  addUser(name: string, password: string, opts: { realms?: string[] } = {}): void {
    checkName(name, this.#path)
    const hash = hashBcryptSync(password, this.#cost)
    this.#db.transaction(() => {
      if (this.#exists(name)) throw errors.GH_ERR_USERSTORE_FAILED(this.#path, `user ${name} already exists`)
      this.#db.prepare('INSERT INTO users (name, password_hash) VALUES (?, ?)').run(name, hash)
      this.#writeHa1(name, password, opts.realms ?? [])
    })()
  }

  /**
   * Sets a new password. The Digest HA1 values are recomputed for the realms given, or, when
   * none are given, for the realms the user already had (an old HA1 would keep the old password valid).
   */
  setPassword(name: string, password: string, opts: { realms?: string[] } = {}): void {
    const hash = hashBcryptSync(password, this.#cost)
    this.#db.transaction(() => {
      this.#mustExist(name)
      const realms = opts.realms ?? this.realmsOf(name)
      this.#db.prepare('UPDATE users SET password_hash = ? WHERE name = ?').run(hash, name)
      this.#db.prepare('DELETE FROM digest_ha1 WHERE user = ?').run(name)
      this.#writeHa1(name, password, realms)
    })()
  }

  removeUser(name: string): boolean {
    return this.#db.prepare('DELETE FROM users WHERE name = ?').run(name).changes > 0
  }

  listUsers(): Array<{ name: string; groups: string[]; active: boolean }> {
    const rows = this.#db.prepare('SELECT name, active FROM users ORDER BY name').all() as Array<{
      name: string
      active: number
    }>
    return rows.map((r) => ({ name: r.name, groups: this.groupsFor(r.name), active: r.active === 1 }))
  }

  addToGroup(user: string, group: string): void {
    if (!GROUP_NAME.test(group))
      throw errors.GH_ERR_USERSTORE_FAILED(this.#path, 'group names are one word without colons or control characters')
    this.#db.transaction(() => {
      this.#mustExist(user)
      this.#db.prepare('INSERT OR IGNORE INTO groups (name) VALUES (?)').run(group)
      this.#db.prepare('INSERT OR IGNORE INTO user_groups (user, group_name) VALUES (?, ?)').run(user, group)
    })()
  }

  /** Removes a membership; a group left without members is dropped. True when there was one. */
  removeFromGroup(user: string, group: string): boolean {
    return this.#db.transaction(() => {
      const changed =
        this.#db.prepare('DELETE FROM user_groups WHERE user = ? AND group_name = ?').run(user, group).changes > 0
      this.#db
        .prepare('DELETE FROM groups WHERE name = ? AND NOT EXISTS (SELECT 1 FROM user_groups WHERE group_name = ?)')
        .run(group, group)
      return changed
    })()
  }

  setActive(name: string, active: boolean): void {
    if (this.#db.prepare('UPDATE users SET active = ? WHERE name = ?').run(active ? 1 : 0, name).changes === 0) {
      throw errors.GH_ERR_USERSTORE_FAILED(this.#path, `no such user ${name}`)
    }
  }

  getUser(name: string): StoredUser | undefined {
    const row = this.#db.prepare('SELECT name, password_hash, active FROM users WHERE name = ?').get(name) as
      { name: string; password_hash: string; active: number } | undefined
    return row === undefined ? undefined : { name: row.name, hash: row.password_hash, active: row.active === 1 }
  }

  groupsFor(name: string): string[] {
    const rows = this.#db
      .prepare('SELECT group_name FROM user_groups WHERE user = ? ORDER BY group_name')
      .all(name) as Array<{ group_name: string }>
    return rows.map((r) => r.group_name)
  }

  realmHash(name: string, realm: string, algorithm: DigestAlgorithm): string | undefined {
    const row = this.#db
      .prepare('SELECT ha1 FROM digest_ha1 WHERE user = ? AND realm = ? AND algorithm = ?')
      .get(name, realm, algorithm) as { ha1: string } | undefined
    return row?.ha1
  }

  realmsOf(name: string): string[] {
    const rows = this.#db
      .prepare('SELECT DISTINCT realm FROM digest_ha1 WHERE user = ? ORDER BY realm')
      .all(name) as Array<{ realm: string }>
    return rows.map((r) => r.realm)
  }

  /** Some stored hash, so a dummy check for unknown users can copy its format and cost. */
  sampleHash(): string | undefined {
    const row = this.#db.prepare('SELECT password_hash FROM users ORDER BY rowid LIMIT 1').get() as
      { password_hash: string } | undefined
    return row?.password_hash
  }

  close(): void {
    if (this.#db.open) this.#db.close()
  }

  #exists(name: string): boolean {
    return this.#db.prepare('SELECT 1 FROM users WHERE name = ?').get(name) !== undefined
  }

  #mustExist(name: string): void {
    if (!this.#exists(name)) throw errors.GH_ERR_USERSTORE_FAILED(this.#path, `no such user ${name}`)
  }

  #writeHa1(name: string, password: string, realms: readonly string[]): void {
    const insert = this.#db.prepare(
      'INSERT OR REPLACE INTO digest_ha1 (user, realm, algorithm, ha1) VALUES (?, ?, ?, ?)',
    )
    for (const realm of realms) {
      for (const algorithm of DIGEST_ALGORITHMS)
        insert.run(name, realm, algorithm, realmHa1(name, realm, password, algorithm))
    }
  }
}

function checkName(name: string, path: string): void {
  if (typeof name !== 'string' || !USER_NAME.test(name)) {
    throw errors.GH_ERR_USERSTORE_FAILED(path, 'user names are 1..255 characters without colons or control characters')
  }
}

function migrate(db: Database.Database, fail: (what: string) => Error): void {
  const version = db.pragma('user_version', { simple: true }) as number
  if (version > SCHEMA_VERSION)
    throw fail(`schema version ${version} is newer than this gatehouse knows (${SCHEMA_VERSION})`)
  for (let v = version; v < SCHEMA_VERSION; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v] as string)
      db.pragma(`user_version = ${v + 1}`)
    })()
  }
}
