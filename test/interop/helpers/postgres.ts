/**
 * A private PostgreSQL cluster (Debian's postgresql) for one test file: initdb into a temporary
 * directory, the postmaster listening only on a unix socket in that directory (no TCP), trust
 * authentication (only the socket's directory permissions guard it), stopped by its PID.
 *
 * PostgreSQL refuses to run as root, and the tests run as root here and in CI: then initdb and
 * the postmaster run as the `postgres` user the Debian package creates, through setpriv, which
 * execs without forking, so the PID spawned is the postmaster's own.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isExecutable, run, skipOrFail } from './run.js'

/** Debian's server binaries: the newest installed major version. */
export const PG_BIN = ((): string | undefined => {
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return undefined
  const majors = readdirSync(root)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a))
  const found = majors.find((v) => isExecutable(join(root, v, 'bin', 'postgres')))
  return found === undefined ? undefined : join(root, found, 'bin')
})()

const SETPRIV = '/usr/bin/setpriv'
const asRoot = process.getuid?.() === 0

/** The uid and gid of `postgres` from /etc/passwd (via `id`), or undefined. */
async function postgresIds(): Promise<{ uid: number; gid: number } | undefined> {
  const uid = await run('/usr/bin/id', ['-u', 'postgres'], { timeoutMs: 5_000 })
  const gid = await run('/usr/bin/id', ['-g', 'postgres'], { timeoutMs: 5_000 })
  if (uid.code !== 0 || gid.code !== 0) return undefined
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) }
}

/** node:test's `skip` value: false when the server binaries (and, as root, setpriv) are there. */
export function skipUnlessPostgres(): string | false {
  if (PG_BIN === undefined)
    return skipOrFail('PostgreSQL server binaries not found under /usr/lib/postgresql (Debian package postgresql)')
  if (asRoot && !isExecutable(SETPRIV)) return skipOrFail(`${SETPRIV} not found (Debian package util-linux)`)
  return false
}

export interface PostgresCluster {
  /** The directory holding the socket: libpq's (and Django's) HOST. */
  socketDir: string
  /** The superuser role initdb made. */
  role: string
  /** The postmaster's PID. */
  pid: number
  /** Runs a client binary of the same version (createdb, psql) against the cluster as `role`. */
  client(name: string, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }>
  /** Immediate shutdown (SIGQUIT) by PID, SIGKILL if it is not gone within 10 s; then removes the directory. */
  stop(): Promise<void>
}

const ROLE = 'gatehouse'

export async function startPostgres(): Promise<PostgresCluster> {
  const bin = PG_BIN
  if (bin === undefined) throw new Error('PostgreSQL is not installed (Debian package postgresql)')
  const dir = mkdtempSync(join(tmpdir(), 'gh-pg-'))
  const data = join(dir, 'data')
  let asUser: string[] = []
  if (asRoot) {
    const ids = await postgresIds()
    if (ids === undefined)
      throw new Error(
        'running as root and there is no `postgres` user to run PostgreSQL as (Debian package postgresql creates it)',
      )
    chownSync(dir, ids.uid, ids.gid)
    asUser = [SETPRIV, `--reuid=${ids.uid}`, `--regid=${ids.gid}`, '--init-groups', '--']
  }
  const cmd = (file: string, args: readonly string[]): [string, string[]] =>
    asUser.length > 0 ? [asUser[0] as string, [...asUser.slice(1), file, ...args]] : [file, [...args]]

  const fail = (what: string, detail: string): never => {
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`${what}: ${detail.slice(-2000)}`)
  }

  const [initFile, initArgs] = cmd(join(bin, 'initdb'), [
    '-D',
    data,
    '-U',
    ROLE,
    '--auth=trust',
    '-E',
    'UTF8',
    '--locale=C.UTF-8',
    '--no-sync',
  ])
  const init = await run(initFile, initArgs, { cwd: dir, timeoutMs: 60_000 })
  if (init.code !== 0) fail('initdb failed', init.stderr)

  // No TCP at all; the socket in the private directory; fsync off: the cluster dies with the test.
  const [pgFile, pgArgs] = cmd(join(bin, 'postgres'), [
    '-D',
    data,
    '-k',
    dir,
    '-c',
    'listen_addresses=',
    '-c',
    'fsync=off',
    '-c',
    'full_page_writes=off',
  ])
  const child: ChildProcess = spawn(pgFile, pgArgs, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (c: string) => {
    log += c
  })
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once('exit', () => resolve())
  })
  const pid = child.pid
  if (pid === undefined) fail('postgres did not start', log)

  const client = (name: string, args: readonly string[]) =>
    run(join(bin, name), ['-h', dir, '-U', ROLE, ...args], { timeoutMs: 30_000 })

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGQUIT')
      let timer: NodeJS.Timeout | undefined
      const gone = await Promise.race([
        exited.then(() => true),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), 10_000)
        }),
      ])
      clearTimeout(timer)
      if (!gone) {
        child.kill('SIGKILL')
        await exited
      }
    }
    rmSync(dir, { recursive: true, force: true })
  }

  // Ready when pg_isready says so: at most 30 s, and at once a failure if the postmaster exits.
  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) fail('postgres exited before accepting connections', log)
    const ready = await run(join(bin, 'pg_isready'), ['-h', dir, '-U', ROLE, '-t', '2'], { timeoutMs: 10_000 })
    if (ready.code === 0) break
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`postgres was not ready within 30 s: ${log.slice(-2000)}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return { socketDir: dir, role: ROLE, pid: pid as number, client, stop }
}
