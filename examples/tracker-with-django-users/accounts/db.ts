/**
 * The accounts app's user database (SQLite, better-sqlite3): users with scrypt password hashes
 * and an active flag, group memberships, and the Digest HA1s H(user:realm:password) for the
 * realms it serves (MD5 and SHA-256), written whenever a password is set, because a one-way
 * password hash can never answer Digest. The accounts app writes it; its provider reads it.
 */
import { createHash } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { hashPassword } from './passwords.js'

export type HashAlgorithm = 'MD5' | 'SHA-256'
export const HA1_ALGORITHMS: readonly HashAlgorithm[] = ['MD5', 'SHA-256']
const NODE_HASH: Record<HashAlgorithm, string> = { MD5: 'md5', 'SHA-256': 'sha256' }

/** Django's default username rule: letters, digits and @.+-_ (no colon, so Basic can carry it). */
export const USER_NAME = /^[A-Za-z0-9@.+_-]{1,64}$/
export const GROUP_NAME = /^[A-Za-z0-9._-]{1,64}$/
export const MIN_PASSWORD = 8
export const MAX_PASSWORD = 1024

export interface Account {
  name: string
  hash: string
  active: boolean
  groups: string[]
  createdAt: string
}

export interface AccountsDbOptions {
  /** Realms whose Digest HA1s are stored when a password is set. */
  realms: string[]
}

/** A refusal the admin or the visitor can fix (bad name, taken name, short password). */
export class AccountError extends Error {
  override readonly name = 'AccountError'
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  name TEXT PRIMARY KEY,
  password_hash TEXT NOT NULL,
  active INTEGER NOT NULL DEFAULT 1,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE TABLE IF NOT EXISTS memberships (
  user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
  group_name TEXT NOT NULL,
  PRIMARY KEY (user, group_name)
);
CREATE TABLE IF NOT EXISTS realm_hashes (
  user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
  realm TEXT NOT NULL,
  algorithm TEXT NOT NULL,
  ha1 TEXT NOT NULL,
  PRIMARY KEY (user, realm, algorithm)
);`

export function realmHa1(user: string, realm: string, password: string, algorithm: HashAlgorithm): string {
  return createHash(NODE_HASH[algorithm]).update(`${user}:${realm}:${password}`, 'utf8').digest('hex')
}

/**
 * 'change' (user name) after every change to a user: the provider of the same process listens
 * and calls env.changed(), so the front drops what it cached about this app's users at once.
 */
export const accountChanges = new EventEmitter<{ change: [name: string] }>()

export class AccountsDb {
  readonly #db: Database.Database
  readonly #realms: string[]

  private constructor(db: Database.Database, realms: string[]) {
    this.#db = db
    this.#realms = realms
  }

  /** Opens (creating file and schema when missing) the database at `path`. */
  static open(path: string, opts: AccountsDbOptions): AccountsDb {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
    const db = new Database(path, { timeout: 5000 })
    db.pragma('journal_mode = WAL')
    db.pragma('foreign_keys = ON')
    db.exec(SCHEMA)
    return new AccountsDb(db, opts.realms)
  }

  get realms(): readonly string[] {
    return this.#realms
  }

  async createUser(name: string, password: string, opts: { groups?: string[]; active?: boolean } = {}): Promise<void> {
    checkUserName(name)
    checkPassword(password)
    for (const g of opts.groups ?? []) checkGroupName(g)
    const hash = await hashPassword(password)
    this.#db.transaction(() => {
      if (this.#exists(name)) throw new AccountError(`the user name ${name} is taken`)
      this.#db
        .prepare('INSERT INTO users (name, password_hash, active) VALUES (?, ?, ?)')
        .run(name, hash, opts.active === false ? 0 : 1)
      this.#writeHa1s(name, password)
      for (const g of opts.groups ?? [])
        this.#db.prepare('INSERT OR IGNORE INTO memberships (user, group_name) VALUES (?, ?)').run(name, g)
    })()
  }

  /** Sets the password and rewrites every HA1 (an old HA1 would keep the old password valid for Digest). */
  async setPassword(name: string, password: string): Promise<void> {
    checkPassword(password)
    const hash = await hashPassword(password)
    this.#db.transaction(() => {
      this.#mustExist(name)
      this.#db.prepare('UPDATE users SET password_hash = ? WHERE name = ?').run(hash, name)
      this.#db.prepare('DELETE FROM realm_hashes WHERE user = ?').run(name)
      this.#writeHa1s(name, password)
    })()
    accountChanges.emit('change', name)
  }

  setActive(name: string, active: boolean): void {
    if (this.#db.prepare('UPDATE users SET active = ? WHERE name = ?').run(active ? 1 : 0, name).changes === 0)
      throw new AccountError(`no such user ${name}`)
    accountChanges.emit('change', name)
  }

  addToGroup(name: string, group: string): void {
    checkGroupName(group)
    this.#mustExist(name)
    this.#db.prepare('INSERT OR IGNORE INTO memberships (user, group_name) VALUES (?, ?)').run(name, group)
    accountChanges.emit('change', name)
  }

  removeFromGroup(name: string, group: string): void {
    this.#db.prepare('DELETE FROM memberships WHERE user = ? AND group_name = ?').run(name, group)
    accountChanges.emit('change', name)
  }

  get(name: string): Account | undefined {
    const row = this.#db
      .prepare('SELECT name, password_hash, active, created_at FROM users WHERE name = ?')
      .get(name) as Row | undefined
    return row === undefined ? undefined : this.#account(row)
  }

  list(): Account[] {
    const rows = this.#db
      .prepare('SELECT name, password_hash, active, created_at FROM users ORDER BY name')
      .all() as Row[]
    return rows.map((r) => this.#account(r))
  }

  groupsOf(name: string): string[] {
    const rows = this.#db
      .prepare('SELECT group_name FROM memberships WHERE user = ? ORDER BY group_name')
      .all(name) as Array<{ group_name: string }>
    return rows.map((r) => r.group_name)
  }

  realmHash(name: string, realm: string, algorithm: string): string | undefined {
    const row = this.#db
      .prepare('SELECT ha1 FROM realm_hashes WHERE user = ? AND realm = ? AND algorithm = ?')
      .get(name, realm, algorithm) as { ha1: string } | undefined
    return row?.ha1
  }

  close(): void {
    if (this.#db.open) this.#db.close()
  }

  #account(row: Row): Account {
    return {
      name: row.name,
      hash: row.password_hash,
      active: row.active === 1,
      groups: this.groupsOf(row.name),
      createdAt: row.created_at,
    }
  }

  #exists(name: string): boolean {
    return this.#db.prepare('SELECT 1 FROM users WHERE name = ?').get(name) !== undefined
  }

  #mustExist(name: string): void {
    if (!this.#exists(name)) throw new AccountError(`no such user ${name}`)
  }

  #writeHa1s(name: string, password: string): void {
    const insert = this.#db.prepare(
      'INSERT OR REPLACE INTO realm_hashes (user, realm, algorithm, ha1) VALUES (?, ?, ?, ?)',
    )
    for (const realm of this.#realms)
      for (const a of HA1_ALGORITHMS) insert.run(name, realm, a, realmHa1(name, realm, password, a))
  }
}

interface Row {
  name: string
  password_hash: string
  active: number
  created_at: string
}

function checkUserName(name: string): void {
  if (!USER_NAME.test(name)) throw new AccountError('user names are 1 to 64 letters, digits or @ . + - _')
}

function checkGroupName(group: string): void {
  if (!GROUP_NAME.test(group)) throw new AccountError('group names are 1 to 64 letters, digits or . - _')
}

function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD || password.length > MAX_PASSWORD)
    throw new AccountError(`passwords are ${MIN_PASSWORD} to ${MAX_PASSWORD} characters`)
}

/** The realms the accounts group keeps HA1s for: DIGEST_REALMS (comma-separated), default Tracker. */
export function realmsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  const list = (env.DIGEST_REALMS ?? 'Tracker')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
  return list.length > 0 ? list : ['Tracker']
}
