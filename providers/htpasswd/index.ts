/**
 * Built-in provider `htpasswd`: Apache htpasswd files in every format htpasswd 2.4 writes
 * (bcrypt, apr1-MD5, SHA-1, SHA-256/512-crypt, crypt), plus {SSHA} and argon2.
 * Options: { file, groupFile?, plaintext?, watchIntervalMs? }, paths relative to env.baseDir.
 * Basic only: a hash of the password cannot give Digest's H(user:realm:password).
 */
import type { AuthContext, Provider, ProviderEnv } from '../../src/providers/contract.js'
import { detectFormat, dummyVerify, primeDummy, verifyPassword } from '../../src/passwords/index.js'
import { fileOption, intervalOption, loadError } from './options.js'
import { parseHtpasswd } from './parse.js'
import { parseGroupFile } from './group-file.js'
import { WatchedFile } from './watched-file.js'

export interface HtpasswdOptions {
  file: string
  groupFile?: string
  /** Accept entries of no known format as plaintext passwords (Apache on Windows). Default false. */
  plaintext?: boolean
  watchIntervalMs?: number
}

interface Loaded {
  users: Map<string, string>
  /** A stored hash whose format and cost the dummy check for unknown users copies. */
  sample: string | undefined
}

export default async function createHtpasswdProvider(
  options: Record<string, unknown>,
  env: ProviderEnv,
): Promise<Provider> {
  const file = fileOption(options, 'file', env, true) as string
  const groupPath = fileOption(options, 'groupFile', env, false)
  const intervalMs = intervalOption(options, env)
  const allowPlaintext = options.plaintext === true
  const analyse = (users: Map<string, string>): Loaded => {
    let unsupported = 0
    let sample: string | undefined
    for (const hash of users.values()) {
      if (detectFormat(hash) === undefined) unsupported++
      else sample ??= hash
    }
    if (unsupported > 0 && !allowPlaintext) {
      env.log.warn('htpasswd file has users with an unsupported hash format; they cannot log in', {
        file,
        count: unsupported,
      })
    }
    return { users, sample }
  }
  // Both files feed cached answers (a success, a user's groups): a re-read of either empties them.
  const onChange = (): void => env.changed?.()
  let users: WatchedFile<Loaded>
  try {
    users = await WatchedFile.open({
      path: file,
      label: 'htpasswd file',
      log: env.log,
      intervalMs,
      onChange,
      parse: (t) => analyse(parseHtpasswd(t)),
    })
  } catch (err) {
    throw loadError(env, 'htpasswd file', file, err)
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
      users.close()
      throw loadError(env, 'group file', groupPath, err)
    }
  }
  await primeDummy({ like: users.current.sample })

  return {
    async checkPassword(_ctx: AuthContext, user: string, password: string): Promise<boolean | null> {
      const { users: map, sample } = users.current
      const hash = map.get(user)
      if (hash === undefined) {
        await dummyVerify(password, { like: sample })
        return null
      }
      return await verifyPassword(hash, password, { allowPlaintext })
    },
    async groupsForUser(_ctx: AuthContext, user: string): Promise<string[]> {
      return [...(groups?.current.get(user) ?? [])]
    },
    close(): void {
      users.close()
      groups?.close()
    },
  } satisfies Provider
}
