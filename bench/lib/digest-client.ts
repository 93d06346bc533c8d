/**
 * A Digest (RFC 7616) load client, run as its own process: wrk cannot do Digest, since each
 * request needs a fresh nonce-count (replay protection refuses a fixed Authorization header).
 * Each of `connections` loops takes its own challenge, then sends requests back to back with
 * nc 1, 2, 3… on a keep-alive socket, computing the response per request; a stale nonce is
 * retaken. Independent of gatehouse's own Digest code on purpose (it checks it).
 * With SCHEME `basic` it sends one fixed Basic header instead: the same client driving a Basic
 * route, so that the front's CPU per request of the two schemes compares like for like. RATE
 * (requests/s in all, 0: as fast as answered) paces the loops: a front answering fewer requests
 * per second batches fewer writes per event-loop turn and pays more per request, so two
 * schemes compare fairly only at the same rate.
 *   node --import tsx bench/lib/digest-client.ts URL SECONDS CONNECTIONS USER PASSWORD [digest|basic] [RATE]
 * Prints one JSON line: { rps, requests, non2xx, errors, p50ms, p99ms }.
 */
import { createHash, randomBytes } from 'node:crypto'
import { Agent, request } from 'node:http'

const [url = '', secondsArg = '5', connArg = '32', user = '', password = '', scheme = 'digest', rateArg = '0'] =
  process.argv.slice(2)
/** Milliseconds between two requests of one loop when paced; 0 when not. */
const intervalMs = Number(rateArg) > 0 ? (Number(connArg) * 1000) / Number(rateArg) : 0
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const basicHeader =
  scheme === 'basic' ? { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } : undefined
const seconds = Number(secondsArg)
const connections = Number(connArg)
const target = new URL(url)
const agent = new Agent({ keepAlive: true, maxSockets: connections })
const HASH: Record<string, string> = { 'SHA-256': 'sha256', MD5: 'md5', 'SHA-512-256': 'sha512-256' }

interface Challenge {
  realm: string
  nonce: string
  opaque?: string
  algorithm: string
  qop: string
}

function h(alg: string, s: string): string {
  return createHash(HASH[alg] ?? 'sha256')
    .update(s)
    .digest('hex')
}

function parseChallenge(header: string | string[] | undefined): Challenge | undefined {
  for (const value of Array.isArray(header) ? header : header ? [header] : []) {
    if (!/^digest\s/i.test(value)) continue
    const params: Record<string, string> = {}
    for (const m of value.matchAll(/(\w+)=(?:"([^"]*)"|([^\s,]+))/g))
      params[(m[1] as string).toLowerCase()] = m[2] ?? m[3] ?? ''
    if (!params.realm || !params.nonce) continue
    return {
      realm: params.realm,
      nonce: params.nonce,
      opaque: params.opaque,
      algorithm: params.algorithm ?? 'MD5',
      qop: (params.qop ?? 'auth').split(',')[0]!.trim(),
    }
  }
  return undefined
}

function authorization(c: Challenge, nc: number, path: string): string {
  const cnonce = randomBytes(8).toString('hex')
  const ncHex = nc.toString(16).padStart(8, '0')
  const ha1 = h(c.algorithm, `${user}:${c.realm}:${password}`)
  const ha2 = h(c.algorithm, `GET:${path}`)
  const response = h(c.algorithm, `${ha1}:${c.nonce}:${ncHex}:${cnonce}:${c.qop}:${ha2}`)
  return (
    `Digest username="${user}", realm="${c.realm}", nonce="${c.nonce}", uri="${path}", algorithm=${c.algorithm}, ` +
    `qop=${c.qop}, nc=${ncHex}, cnonce="${cnonce}", response="${response}"${c.opaque ? `, opaque="${c.opaque}"` : ''}`
  )
}

function get(headers: Record<string, string>): Promise<{ status: number; challenge: string | string[] | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, host: target.hostname, port: target.port, path: target.pathname + target.search, headers },
      (res) => {
        res.resume()
        res.once('end', () => resolve({ status: res.statusCode ?? 0, challenge: res.headers['www-authenticate'] }))
      },
    )
    req.once('error', reject)
    req.end()
  })
}

const stats = { requests: 0, non2xx: 0, errors: 0, latencies: [] as number[] }
const deadline = Date.now() + seconds * 1000

async function loop(): Promise<void> {
  const path = target.pathname + target.search
  let challenge: Challenge | undefined
  let nc = 0
  let next = Date.now() + Math.random() * intervalMs
  while (Date.now() < deadline) {
    if (intervalMs > 0) {
      const wait = next - Date.now()
      if (wait > 0) await pause(wait)
      next = Math.max(next + intervalMs, Date.now() - intervalMs)
    }
    try {
      if (basicHeader !== undefined) {
        const started = process.hrtime.bigint()
        const res = await get(basicHeader)
        stats.latencies.push(Number(process.hrtime.bigint() - started) / 1e6)
        stats.requests++
        if (res.status < 200 || res.status > 299) stats.non2xx++
        continue
      }
      if (challenge === undefined) {
        challenge = parseChallenge((await get({})).challenge)
        nc = 0
        if (challenge === undefined) throw new Error('no Digest challenge')
        continue
      }
      const started = process.hrtime.bigint()
      const res = await get({ authorization: authorization(challenge, ++nc, path) })
      stats.latencies.push(Number(process.hrtime.bigint() - started) / 1e6)
      stats.requests++
      if (res.status === 401) challenge = parseChallenge(res.challenge) // stale: take the new nonce
      if (res.status < 200 || res.status > 299) stats.non2xx++
    } catch {
      stats.errors++
      challenge = undefined
    }
  }
}

const started = Date.now()
await Promise.all(Array.from({ length: connections }, () => loop()))
const elapsed = (Date.now() - started) / 1000
agent.destroy()
const sorted = stats.latencies.sort((a, b) => a - b)
const pct = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0
process.stdout.write(
  JSON.stringify({
    rps: stats.requests / elapsed,
    requests: stats.requests,
    non2xx: stats.non2xx,
    errors: stats.errors,
    p50ms: pct(0.5),
    p99ms: pct(0.99),
  }) + '\n',
)
