/**
 * htpasswd file format: `user:hash` per line; blank lines and `#` comments are skipped; the first
 * entry of a user wins; fields after a second colon are ignored (as mod_authn_file does).
 * @see https://httpd.apache.org/docs/2.4/programs/htpasswd.html
 */
import { FileFormatError } from './watched-file.js'

export function parseHtpasswd(text: string): Map<string, string> {
  const users = new Map<string, string>()
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).replace(/\r$/, '')
    if (line.trim() === '' || line.startsWith('#')) continue
    const colon = line.indexOf(':')
    if (colon <= 0) throw new FileFormatError(i + 1, 'expected "user:hash"')
    const user = line.slice(0, colon)
    const hash = line.slice(colon + 1).split(':')[0] as string
    if (!users.has(user)) users.set(user, hash.trim())
  }
  return users
}
