/**
 * The demo's data, made before the gateway starts (`gatehouse demo` loads this module from the
 * example, so the package's compiled code holds no example): the data dir and its secrets, an
 * admin in group staff and a normal user with new random passwords at each start, and a first
 * wiki page and ticket.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { AccountsDb, realmsFromEnv } from './accounts/db.js'
import { TrackerDb } from './tracker/db.js'
import { ensureSecretFile } from './lib/data-dir.js'

export interface DemoUser {
  name: string
  password: string
  groups: string[]
}

/** Creates the data dir and secrets; (re)sets the demo users. `accountsEnv`: the accounts group's env (its Digest realms). */
export async function seedDemo(dataDir: string, accountsEnv: Record<string, string>): Promise<DemoUser[]> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  ensureSecretFile(join(dataDir, 'digest.secret'))
  ensureSecretFile(join(dataDir, 'csrf.secret'))
  const users: DemoUser[] = [
    { name: 'admin', password: randomBytes(12).toString('base64url'), groups: ['staff'] },
    { name: 'alice', password: randomBytes(12).toString('base64url'), groups: [] },
  ]
  const accounts = AccountsDb.open(join(dataDir, 'accounts.sqlite'), { realms: realmsFromEnv(accountsEnv) })
  try {
    for (const u of users) {
      if (accounts.get(u.name) === undefined) {
        await accounts.createUser(u.name, u.password, { groups: u.groups })
      } else {
        await accounts.setPassword(u.name, u.password)
        accounts.setActive(u.name, true)
        for (const g of u.groups) accounts.addToGroup(u.name, g)
      }
    }
  } finally {
    accounts.close()
  }
  const tracker = TrackerDb.open(join(dataDir, 'tracker.sqlite'))
  try {
    if (tracker.page('WikiStart') === undefined) {
      tracker.savePage(
        'WikiStart',
        'Welcome to the tracker.\n\nEvery page and ticket records who wrote it: the user gatehouse authenticated against the accounts app ([[Accounts]] are managed at /accounts/ by group staff).\n\nSee ticket #1.',
        'admin',
      )
      tracker.createTicket(
        'Try the demo',
        'Comment on this ticket, then close it. Log in as another user and see who did what.',
        'admin',
      )
    }
  } finally {
    tracker.close()
  }
  return users
}
