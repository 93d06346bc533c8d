/**
 * One interop fixture: a real echo upstream and a real gateway on 127.0.0.1 over a temp
 * directory of user files. `close()` stops both and removes the directory; it is idempotent,
 * and a gateway that fails to start leaves nothing running behind.
 */
import bcrypt from 'bcryptjs'
import { startEchoUpstream, type EchoUpstream, type Seen } from '../../helpers/echo-upstream.js'
import { startGateway, tempDir, writeFile, type TestGateway } from '../../helpers/gateway.js'
import { UserStore } from '../../../providers/sqlite/store.js'

export interface InteropStack {
  gw: TestGateway
  upstream: EchoUpstream
  dir: string
  /** What the upstream saw last, or fails the caller's assertion with a clear message. */
  lastSeen(): Seen
  close(): Promise<void>
}

/** The realm every interop route uses. */
export const REALM = 'Office'
export const DIGEST_SECRET = 'interop-test-secret-0123456789'

/** Users of the standard fixture: Basic users in an htpasswd file, Digest-capable users in SQLite. */
export const users = {
  /** htpasswd (bcrypt): a password with colons and a space. */
  alice: { name: 'alice', password: 'wonder:land: 1' },
  /** htpasswd (bcrypt): a UTF-8 user name and password. */
  cafe: { name: 'café', password: 'crème brûlée' },
  /** sqlite, group staff, Digest HA1 for realm Office (MD5, SHA-256, SHA-512-256). */
  dave: { name: 'dave', password: 'dave:pw-42' },
  /** sqlite, no group, Digest HA1 for realm Office. */
  erin: { name: 'erin', password: 'erin-pw' },
} as const

/** Writes users.htpasswd and users.sqlite into dir (the providers `office` and `local`). */
export function writeStandardUsers(dir: string): void {
  const line = (u: { name: string; password: string }) => `${u.name}:${bcrypt.hashSync(u.password, 4)}\n`
  writeFile(dir, 'users.htpasswd', line(users.alice) + line(users.cafe))
  const store = UserStore.open(`${dir}/users.sqlite`, { create: true, bcryptCost: 4 })
  try {
    store.addUser(users.dave.name, users.dave.password, { realms: [REALM] })
    store.addToGroup(users.dave.name, 'staff')
    store.addUser(users.erin.name, users.erin.password, { realms: [REALM] })
  } finally {
    store.close()
  }
}

export const standardProviders = {
  office: { type: 'htpasswd', file: './users.htpasswd' },
  local: { type: 'sqlite', database: './users.sqlite' },
}

export type ConfigBuilder = (ctx: {
  dir: string
  upstream: string
}) => Record<string, unknown> | Promise<Record<string, unknown>>

export async function startStack(build: ConfigBuilder): Promise<InteropStack> {
  const { dir, cleanup } = tempDir('gh-interop-')
  let upstream: EchoUpstream | undefined
  let gw: TestGateway | undefined
  let closing: Promise<void> | undefined
  const close = (): Promise<void> => {
    closing ??= (async () => {
      try {
        await gw?.close()
      } finally {
        try {
          await upstream?.close()
        } finally {
          cleanup()
        }
      }
    })()
    return closing
  }
  try {
    upstream = await startEchoUpstream()
    const raw = await build({ dir, upstream: upstream.url })
    gw = await startGateway({ digest: { secret: DIGEST_SECRET }, ...raw }, dir)
  } catch (err) {
    await close()
    throw err
  }
  const up = upstream
  return {
    gw,
    upstream: up,
    dir,
    lastSeen(): Seen {
      const seen = up.seen.at(-1)
      if (seen === undefined) throw new Error('the upstream saw no request')
      return seen
    },
    close,
  }
}
