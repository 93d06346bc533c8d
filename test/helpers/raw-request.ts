/**
 * One HTTP/1.1 request written byte for byte on a fresh connection (Connection: close), so a
 * test controls exactly which header fields, and how many, the server receives.
 */
import { connect } from 'node:net'

export interface RawResponse {
  status: number
  /** Lower-cased names; a repeated field keeps every value. */
  headers: Record<string, string[]>
  body: string
}

/** `fields` are [name, value] pairs sent in order after the request line; nothing is added. */
export function rawRequest(
  port: number,
  method: string,
  target: string,
  fields: ReadonlyArray<readonly [string, string]>,
): Promise<RawResponse> {
  const head = `${method} ${target} HTTP/1.1\r\n${fields.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => socket.write(head, 'latin1'))
    const chunks: Buffer[] = []
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.once('error', reject)
    socket.once('close', () => {
      const text = Buffer.concat(chunks).toString('latin1')
      const end = text.indexOf('\r\n\r\n')
      if (end === -1) return reject(new Error(`no response head in ${JSON.stringify(text.slice(0, 200))}`))
      const [statusLine, ...lines] = text.slice(0, end).split('\r\n')
      const headers: Record<string, string[]> = {}
      for (const line of lines) {
        const i = line.indexOf(':')
        const name = line.slice(0, i).trim().toLowerCase()
        ;(headers[name] ??= []).push(line.slice(i + 1).trim())
      }
      resolve({
        status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0),
        headers,
        body: text.slice(end + 4),
      })
    })
  })
}

/** `count` distinct small fields (p0: x, p1: x, …) to pad a request head. */
export function padding(count: number): Array<[string, string]> {
  return Array.from({ length: count }, (_, i) => [`p${i}`, 'x'] as [string, string])
}
