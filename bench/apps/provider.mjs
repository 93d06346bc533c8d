// The benchmark's provider, run inside a daemon group: one user (bench / bench) and no hashing
// cost (a cheap provider, so a cache miss measures the IPC round trip, not a password hash).
// Plain JavaScript, like apps/hello.mjs.
import { createHash } from 'node:crypto'

const USER = 'bench'
const PASSWORD = 'bench'
const HASH = { MD5: 'md5', 'SHA-256': 'sha256', 'SHA-512-256': 'sha512-256' }

export default async function factory() {
  return {
    async checkPassword(_ctx, user, password) {
      if (user !== USER) return null
      return password === PASSWORD
    },
    async getRealmHash(_ctx, user, realm, algorithm) {
      const hash = HASH[algorithm]
      if (user !== USER || hash === undefined) return null
      return createHash(hash).update(`${user}:${realm}:${PASSWORD}`).digest('hex')
    },
    async groupsForUser(_ctx, user) {
      return user === USER ? ['bench'] : []
    },
  }
}
