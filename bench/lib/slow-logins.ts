/**
 * Keeps COUNT slow logins in flight against a Basic route, as its own process: COUNT keep-alive
 * connections, connection i logging in as `${PREFIX}${i + 1}` (distinct users, so no two
 * logins share a credential), and a new login sent the moment one is answered. It writes
 * `SLOW-READY {"inFlight":COUNT}` on stderr once all COUNT are sent, and on SIGTERM one JSON
 * line on stdout: { answered, statuses, errors, inFlight } (answers while it ran, by status).
 *   node --import tsx bench/lib/slow-logins.ts URL COUNT PREFIX PASSWORD
 */
import { Agent, request } from 'node:http'

const [url = '', countArg = '100', prefix = 'slow', password = ''] = process.argv.slice(2)
const count = Number(countArg)
if (!Number.isInteger(count) || count < 1) throw new Error(`COUNT must be a positive integer, got ${countArg}`)
const target = new URL(url)
const agent = new Agent({ keepAlive: true, maxSockets: count })
const stats = { answered: 0, statuses: {} as Record<string, number>, errors: 0 }
let inFlight = 0
let sent = 0
let stopping = false

function login(slot: number): void {
  if (stopping) return
  const authorization = `Basic ${Buffer.from(`${prefix}${slot + 1}:${password}`).toString('base64')}`
  inFlight++
  const req = request(
    { agent, host: target.hostname, port: target.port, path: target.pathname, headers: { authorization } },
    (res) => {
      res.resume()
      res.once('end', () => {
        inFlight--
        stats.answered++
        const key = String(res.statusCode)
        stats.statuses[key] = (stats.statuses[key] ?? 0) + 1
        login(slot)
      })
    },
  )
  req.once('error', () => {
    inFlight--
    if (stopping) return
    stats.errors++
    setTimeout(() => login(slot), 100)
  })
  req.end(() => {
    if (++sent === count) process.stderr.write(`SLOW-READY ${JSON.stringify({ inFlight })}\n`)
  })
}

process.once('SIGTERM', () => {
  stopping = true
  process.stdout.write(JSON.stringify({ ...stats, inFlight }) + '\n', () => {
    agent.destroy()
    process.exit(0)
  })
})

for (let i = 0; i < count; i++) login(i)
