/**
 * `gatehouse users`: manages the sqlite provider's user store.
 *   users add|passwd USER [--password-stdin] [--digest-realm REALM ...]
 *   users remove|groups|activate|deactivate USER
 *   users add-group|remove-group USER GROUP
 *   users list
 * The database is `--database FILE`, or found from `--config FILE [--provider NAME]` through
 * io.databaseFromConfig. Passwords come from stdin's first line (--password-stdin) or a prompt
 * with echo off on a terminal; never from argv. Exit codes: 0 ok, 1 failure, 2 usage.
 */
import type { ReadStream } from 'node:tty'
import { isGatehouseError } from '../../errors.js'
import { UserStore } from '../../../providers/sqlite/store.js'
import { parseFlags } from '../flags.js'

export interface UsersIO {
  stdin: NodeJS.ReadableStream
  stdout: (s: string) => void
  stderr: (s: string) => void
  /** Resolves the sqlite provider's database from the configuration (the CLI main supplies it). */
  databaseFromConfig?: (providerName?: string, configPath?: string) => Promise<string>
}

const USAGE = `Usage: gatehouse users COMMAND (--database FILE | --config FILE [--provider NAME]) [options]

Commands:
  add USER [--password-stdin] [--digest-realm REALM ...]     add a user (creates the database)
  passwd USER [--password-stdin] [--digest-realm REALM ...]  set a new password
  remove USER                                                remove a user
  list                                                       list users: name, active|inactive, groups
  groups USER                                                print the user's groups
  add-group USER GROUP | remove-group USER GROUP             change group membership
  activate USER | deactivate USER                            allow or refuse the user's logins

The password is read from the first line of stdin with --password-stdin, or prompted for
on a terminal. --digest-realm stores Digest hashes (MD5, SHA-256, SHA-512-256) for the realm;
passwd without it keeps the user's realms. --bcrypt-cost N sets the bcrypt cost (default 10).
`

type Action = (
  store: UserStore,
  pos: string[],
  ctx: { io: UsersIO; password: () => Promise<string>; realms?: string[] },
) => Promise<number> | number

const ACTIONS: Record<string, { args: number; create?: boolean; action: Action }> = {
  add: {
    args: 1,
    create: true,
    action: async (s, [u], c) => (s.addUser(u as string, await c.password(), { realms: c.realms }), 0),
  },
  passwd: {
    args: 1,
    action: async (s, [u], c) => (s.setPassword(u as string, await c.password(), { realms: c.realms }), 0),
  },
  remove: {
    args: 1,
    action: (s, [u], c) => (s.removeUser(u as string) ? 0 : (c.io.stderr(`gatehouse users: no such user ${u}\n`), 1)),
  },
  list: {
    args: 0,
    action: (s, _p, c) => {
      for (const u of s.listUsers())
        c.io.stdout(`${u.name}\t${u.active ? 'active' : 'inactive'}\t${u.groups.join(',')}\n`)
      return 0
    },
  },
  groups: {
    args: 1,
    action: (s, [u], c) => {
      if (s.getUser(u as string) === undefined) return (c.io.stderr(`gatehouse users: no such user ${u}\n`), 1)
      for (const g of s.groupsFor(u as string)) c.io.stdout(`${g}\n`)
      return 0
    },
  },
  'add-group': { args: 2, action: (s, [u, g]) => (s.addToGroup(u as string, g as string), 0) },
  'remove-group': {
    args: 2,
    action: (s, [u, g], c) =>
      s.removeFromGroup(u as string, g as string) ? 0 : (c.io.stderr(`gatehouse users: ${u} is not in ${g}\n`), 1),
  },
  activate: { args: 1, action: (s, [u]) => (s.setActive(u as string, true), 0) },
  deactivate: { args: 1, action: (s, [u]) => (s.setActive(u as string, false), 0) },
}

const FLAGS = {
  database: { type: 'string' },
  config: { type: 'string' },
  provider: { type: 'string' },
  'password-stdin': { type: 'boolean' },
  'digest-realm': { type: 'string', multiple: true },
  'bcrypt-cost': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

export async function usersCommand(args: string[], io: UsersIO): Promise<number> {
  const usage = (msg: string): number => (io.stderr(`gatehouse users: ${msg}\n\n${USAGE}`), 2)
  let parsed: ReturnType<typeof parseFlags<typeof FLAGS>>
  try {
    parsed = parseFlags(args, FLAGS, 'users')
  } catch (err) {
    // The flag's own line last, where the eye lands, not above the whole usage text.
    return (io.stderr(`gatehouse: ${(err as Error).message}\n`), 2)
  }
  const { values, positionals } = parsed
  if (values.help === true) return (io.stdout(USAGE), 0)
  const [name, ...pos] = positionals
  const spec = name === undefined ? undefined : ACTIONS[name]
  if (spec === undefined) return usage(name === undefined ? 'missing command' : `unknown command ${name}`)
  if (pos.length !== spec.args)
    return usage(`${name} takes ${spec.args === 0 ? 'no arguments' : spec.args === 1 ? 'USER' : 'USER GROUP'}`)
  const cost = values['bcrypt-cost'] === undefined ? undefined : Number(values['bcrypt-cost'])
  if (cost !== undefined && (!Number.isInteger(cost) || cost < 4 || cost > 31))
    return usage('--bcrypt-cost must be an integer 4..31')

  let database = values.database
  if (database === undefined) {
    if (io.databaseFromConfig === undefined || values.config === undefined)
      return usage('--database FILE (or --config FILE) is required')
    try {
      database = await io.databaseFromConfig(values.provider, values.config)
    } catch (err) {
      io.stderr(`gatehouse users: ${(err as Error).message}\n`)
      return 1
    }
  }
  const password = async (): Promise<string> => {
    const pw = values['password-stdin'] === true ? await readFirstLine(io.stdin) : await promptTwice(io)
    if (pw === '') throw new CliFailure('empty password')
    if (Buffer.byteLength(pw) > 72)
      io.stderr('gatehouse users: warning: bcrypt uses only the first 72 bytes of a password\n')
    return pw
  }
  if ((name === 'add' || name === 'passwd') && values['password-stdin'] !== true && !isTTY(io.stdin)) {
    return usage('no password: use --password-stdin, or run on a terminal to be prompted')
  }

  let store: UserStore | undefined
  try {
    store = UserStore.open(database, { create: spec.create === true, bcryptCost: cost })
    return await spec.action(store, pos, { io, password, realms: values['digest-realm'] })
  } catch (err) {
    if (err instanceof CliFailure || isGatehouseError(err)) {
      io.stderr(`gatehouse users: ${err.message}\n`)
      return 1
    }
    throw err
  } finally {
    store?.close()
  }
}

class CliFailure extends Error {}

function isTTY(stream: NodeJS.ReadableStream): stream is ReadStream {
  return (stream as Partial<ReadStream>).isTTY === true
}

/** The first line of a stream (without its line end); the rest is left unread. */
function readFirstLine(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = ''
    const done = (err?: Error): void => {
      stream.off('data', onData)
      stream.off('end', onEnd)
      stream.off('error', done)
      stream.pause()
      if (err !== undefined) reject(err)
      else resolve(buf.replace(/\r?\n[\s\S]*$/, '').replace(/\r$/, ''))
    }
    const onData = (chunk: Buffer | string): void => {
      buf += chunk.toString()
      if (buf.includes('\n')) done()
    }
    const onEnd = (): void => done()
    stream.on('data', onData)
    stream.on('end', onEnd)
    stream.on('error', done)
    stream.resume()
  })
}

async function promptTwice(io: UsersIO): Promise<string> {
  const stdin = io.stdin as ReadStream
  const first = await promptHidden(stdin, io, 'New password: ')
  const second = await promptHidden(stdin, io, 'Re-type new password: ')
  if (first !== second) throw new CliFailure('passwords do not match')
  return first
}

/** Reads one line on a terminal in raw mode, echoing nothing. Ctrl-C aborts. */
function promptHidden(stdin: ReadStream, io: UsersIO, prompt: string): Promise<string> {
  io.stderr(prompt)
  return new Promise((resolve, reject) => {
    let line = ''
    stdin.setRawMode(true)
    const finish = (err?: Error): void => {
      stdin.off('data', onData)
      stdin.setRawMode(false)
      stdin.pause()
      io.stderr('\n')
      if (err === undefined) resolve(line)
      else reject(err)
    }
    const onData = (chunk: Buffer | string): void => {
      for (const ch of chunk.toString()) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish()
        if (ch === '\u0003') return finish(new CliFailure('aborted'))
        if (ch === '\u007f' || ch === '\b') line = [...line].slice(0, -1).join('')
        else line += ch
      }
    }
    stdin.on('data', onData)
    stdin.resume()
  })
}
