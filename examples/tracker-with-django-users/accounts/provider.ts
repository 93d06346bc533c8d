/**
 * The accounts app's provider: gatehouse loads it inside the `accounts` group's processes and
 * asks it, over IPC, about the users of this app's database, for any route that names
 * `provider: accounts` (the tracker's, and the accounts admin area's).
 *
 *  - checkPassword: true / false; null for an unknown AND for an inactive user (as Django's
 *    modwsgi handler answers), after the same scrypt work as a real check (a dummy hash), so the
 *    answer time does not tell the three apart.
 *  - getRealmHash: the stored HA1 for (user, realm, algorithm), null when unknown or inactive.
 *  - groupsForUser: the user's groups ([] when inactive).
 *  - env.changed() whenever this app changes a user, so the front's cache forgets them at once.
 * Nothing here throws for a denial; a broken database throws, and gatehouse answers 5xx.
 */
import { randomBytes } from 'node:crypto'
import { defineProvider, type Provider } from 'gatehouse-auth'
import { dataFile } from '../lib/data-dir.js'
import { AccountsDb, accountChanges, realmsFromEnv } from './db.js'
import { hashPassword, verifyPassword } from './passwords.js'

export default defineProvider(async (_options, env) => {
  const db = AccountsDb.open(dataFile('accounts.sqlite'), { realms: realmsFromEnv() })
  const dummyHash = await hashPassword(randomBytes(18).toString('base64url'))
  env.log.info('accounts provider ready', { realms: db.realms })
  // A password set, a user deactivated, a group changed through this app: the front forgets
  // what it cached at once, instead of when the entries expire.
  const onChange = (): void => env.changed?.()
  accountChanges.on('change', onChange)
  return {
    async checkPassword(_ctx, user, password) {
      const account = db.get(user)
      const usable = account !== undefined && account.active
      const matches = await verifyPassword(password, usable ? account.hash : dummyHash)
      return usable ? matches : null
    },
    async getRealmHash(_ctx, user, realm, algorithm) {
      const account = db.get(user)
      if (account === undefined || !account.active) return null
      return db.realmHash(user, realm, algorithm) ?? null
    },
    async groupsForUser(_ctx, user) {
      const account = db.get(user)
      return account !== undefined && account.active ? account.groups : []
    },
    close() {
      accountChanges.off('change', onChange)
      db.close()
    },
  } satisfies Provider
})
