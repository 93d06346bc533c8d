/**
 * Inside a worker started as root: drop to the group's user and group before any app code runs,
 * checking every step. A group with a user configured never runs as root.
 */
import { readFileSync } from 'node:fs'

export function dropPrivileges(user: string | undefined, group: string | undefined): void {
  if (user === undefined && group === undefined) return
  const getuid = process.getuid?.bind(process)
  if (getuid === undefined) throw new Error('user/group switching is not supported on this platform')
  if (getuid() !== 0) {
    // Not root: nothing to drop to; only acceptable when already running as that user.
    if (user !== undefined && user !== String(getuid()) && user !== currentUserName()) {
      throw new Error(`cannot switch to user ${user}: not started as root`)
    }
    return
  }
  if (user === undefined) throw new Error('a group is configured without a user; refusing to keep running as root')
  const primary = group ?? primaryGroup(user)
  const proc = process as unknown as { initgroups?: (user: string, extra: string | number) => void }
  if (proc.initgroups === undefined) throw new Error('initgroups is not available')
  proc.initgroups(user, primary)
  process.setgid!(primary)
  process.setuid!(user)
  if (process.getuid!() === 0 || process.geteuid!() === 0) throw new Error(`still root after setuid(${user})`)
  if (process.getgid!() === 0 || process.getegid!() === 0) {
    if (primary !== 0 && primary !== '0' && primary !== 'root')
      throw new Error(`still gid 0 after setgid(${String(primary)})`)
  }
  let regained = false
  try {
    process.setuid!(0)
    regained = true
  } catch {
    // expected: root cannot be regained
  }
  if (regained) throw new Error('setuid(0) succeeded after dropping privileges')
}

function primaryGroup(user: string): number {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':')
    if (f.length >= 4 && (f[0] === user || f[2] === user)) return Number(f[3])
  }
  throw new Error(`unknown user ${user}`)
}

function currentUserName(): string {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':')
    if (f.length >= 4 && Number(f[2]) === process.getuid!()) return f[0] as string
  }
  return ''
}
