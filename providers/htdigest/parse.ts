/**
 * htdigest file format: `user:realm:HA1` per line, HA1 = hex MD5(user:realm:password).
 * Blank lines and `#` comments are skipped; the first entry of a (user, realm) wins.
 * @see https://httpd.apache.org/docs/2.4/programs/htdigest.html
 */
import { FileFormatError } from '../htpasswd/watched-file.js'

/** Key of an entry: the user name cannot hold a colon in this format, so `user:realm` is unambiguous. */
export function entryKey(user: string, realm: string): string {
  return `${user}:${realm}`
}

export function parseHtdigest(text: string): Map<string, string> {
  const entries = new Map<string, string>()
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).replace(/\r$/, '')
    if (line.trim() === '' || line.startsWith('#')) continue
    const m = /^([^:]+):([^:]*):([0-9a-fA-F]{32})\s*$/.exec(line)
    if (m === null) throw new FileFormatError(i + 1, 'expected "user:realm:md5-hex"')
    const key = entryKey(m[1] as string, m[2] as string)
    if (!entries.has(key)) entries.set(key, (m[3] as string).toLowerCase())
  }
  return entries
}
