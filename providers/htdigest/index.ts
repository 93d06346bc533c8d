/**
 * Built-in provider `htdigest`: Apache htdigest files (`user:realm:MD5(user:realm:password)`).
 * Options: { file, groupFile?, watchIntervalMs? }, paths relative to env.baseDir.
 * getRealmHash answers for MD5 only: htdigest files hold nothing else, so SHA-256 and
 * SHA-512-256 get null (the user is unknown to those algorithms). checkPassword hashes the
 * password with the request's realm, so the same file serves Basic too.
 */
import { createHash } from 'node:crypto'
import type { AuthContext, DigestAlgorithm, Provider, ProviderEnv } from '../../src/providers/contract.js'
import { safeEqual } from '../../src/passwords/index.js'
import { fileOption, intervalOption, loadError } from '../htpasswd/options.js'
import { parseGroupFile } from '../htpasswd/group-file.js'
import { WatchedFile } from '../htpasswd/watched-file.js'
import { entryKey, parseHtdigest } from './parse.js'

export interface HtdigestOptions {
  file: string
  groupFile?: string
  watchIntervalMs?: number
}

/** Compared against when the user is unknown, so both paths hash and compare the same way. */
const DUMMY_HA1 = '0'.repeat(32)

function md5Hex(s: string): string {
  return createHash('md5').update(s, 'utf8').digest('hex')
}

export default async function createHtdigestProvider(
  options: Record<string, unknown>,
  env: ProviderEnv,
): Promise<Provider> {
  const file = fileOption(options, 'file', env, true) as string
  const groupPath = fileOption(options, 'groupFile', env, false)
  const intervalMs = intervalOption(options, env)
  // Both files feed cached answers (a success, an HA1, a user's groups): a re-read of either empties them.
  const onChange = (): void => env.changed?.()
  let entries: WatchedFile<Map<string, string>>
  try {
    entries = await WatchedFile.open({
      path: file,
      label: 'htdigest file',
      log: env.log,
      intervalMs,
      onChange,
      parse: parseHtdigest,
    })
  } catch (err) {
    throw loadError(env, 'htdigest file', file, err)
  }
  let groups: WatchedFile<Map<string, string[]>> | undefined
  if (groupPath !== undefined) {
    try {
      groups = await WatchedFile.open({
        path: groupPath,
        label: 'group file',
        log: env.log,
        intervalMs,
        onChange,
        parse: parseGroupFile,
      })
    } catch (err) {
      entries.close()
      throw loadError(env, 'group file', groupPath, err)
    }
  }

  return {
    async checkPassword(ctx: AuthContext, user: string, password: string): Promise<boolean | null> {
      const ha1 = entries.current.get(entryKey(user, ctx.realm))
      const ok = safeEqual(md5Hex(`${user}:${ctx.realm}:${password}`), ha1 ?? DUMMY_HA1)
      return ha1 === undefined ? null : ok
    },
    async getRealmHash(
      _ctx: AuthContext,
      user: string,
      realm: string,
      algorithm: DigestAlgorithm,
    ): Promise<string | null> {
      if (algorithm !== 'MD5') return null
      return entries.current.get(entryKey(user, realm)) ?? null
    },
    async groupsForUser(_ctx: AuthContext, user: string): Promise<string[]> {
      return [...(groups?.current.get(user) ?? [])]
    },
    async findUserByHash(
      _ctx: AuthContext,
      userhash: string,
      realm: string,
      algorithm: DigestAlgorithm,
    ): Promise<string | null> {
      if (algorithm !== 'MD5') return null
      for (const key of entries.current.keys()) {
        const user = key.slice(0, key.indexOf(':'))
        if (key === entryKey(user, realm) && safeEqual(md5Hex(`${user}:${realm}`), userhash.toLowerCase())) return user
      }
      return null
    },
    close(): void {
      entries.close()
      groups?.close()
    },
  } satisfies Provider
}
