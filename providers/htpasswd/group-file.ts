/**
 * Apache AuthGroupFile format: `group: user1 user2 ...`, one group per line, `#` comments.
 * @see https://httpd.apache.org/docs/2.4/mod/mod_authz_groupfile.html
 */
import { FileFormatError } from './watched-file.js'

/** Parses a group file into user → groups (in file order, without duplicates). */
export function parseGroupFile(text: string): Map<string, string[]> {
  const byUser = new Map<string, string[]>()
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim()
    if (line === '' || line.startsWith('#')) continue
    const colon = line.indexOf(':')
    if (colon <= 0) throw new FileFormatError(i + 1, 'expected "group: user ..."')
    const group = line.slice(0, colon).trim()
    for (const user of line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)) {
      if (user === '') continue
      const groups = byUser.get(user) ?? []
      if (!groups.includes(group)) groups.push(group)
      byUser.set(user, groups)
    }
  }
  return byUser
}
