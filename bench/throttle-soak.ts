/**
 * A bounded soak of the login throttle (at most 60 s, 127.0.0.1 only): a gateway in this process
 * with the default `throttle:` settings, a provider that takes 5 ms per password check, and two
 * clients at the same address (127.0.0.5, a shared NAT): a guesser sending wrong passwords for
 * bob, each one different, and a valid user, alice, whose requests are credential-cache hits
 * after her first login. Prints how each fared and how many checks reached the provider.
 *
 *   node --import tsx bench/throttle-soak.ts [--seconds 10] [--guessers 8] [--users 8]
 */
import { Agent, createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Writable } from 'node:stream'
import { parseConfig } from '../src/config/parse.js'
import { runGateway } from '../src/gateway.js'
import { createLogger } from '../src/log.js'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    guessers: { type: 'string', default: '8' },
    users: { type: 'string', default: '8' },
  },
})
const seconds = Math.min(60, Number(values.seconds))
const NAT = '127.0.0.5'

const PROVIDER = `import { appendFileSync } from 'node:fs'
const USERS = { alice: 'right-password', bob: 'bob-pw' }
export default (options) => ({
  async checkPassword(_ctx, user, password) {
    appendFileSync(options.file, '.')
    await new Promise((r) => setTimeout(r, 5))
    return USERS[user] === undefined ? null : USERS[user] === password
  },
})
`

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gh-soak-'))
  const calls = join(dir, 'calls')
  writeFileSync(calls, '')
  writeFileSync(join(dir, 'provider.mjs'), PROVIDER)
  const app = createServer((_req, res) => res.end('ok\n'))
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve))
  const config = parseConfig(
    {
      listen: { host: '127.0.0.1', port: 0 },
      providers: { users: { type: 'module', module: './provider.mjs', file: calls, threads: 2, concurrency: 16 } },
      routes: [
        {
          path: '/app',
          upstream: `http://127.0.0.1:${(app.address() as AddressInfo).port}`,
          auth: { realm: 'App', provider: 'users' },
        },
      ],
    },
    { baseDir: dir },
  )
  const gw = await runGateway(config, {
    logger: createLogger(
      'warn',
      new Writable({
        write(_c, _e, cb) {
          cb()
        },
      }),
    ),
    signals: false,
  })
  const port = Number(new URL(gw.address).port)
  const send = (agent: Agent, user: string, password: string): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/app/x',
          agent,
          localAddress: NAT,
          headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` },
        },
        (res) => {
          res.resume()
          res.on('end', () => resolve(res.statusCode ?? 0))
        },
      )
      req.on('error', reject)
      req.end()
    })
  try {
    const userAgent = new Agent({ keepAlive: true, maxSockets: Number(values.users) })
    const guessAgent = new Agent({ keepAlive: true, maxSockets: Number(values.guessers) })
    if ((await send(userAgent, 'alice', 'right-password')) !== 200) throw new Error('alice could not log in')
    const end = Date.now() + seconds * 1000
    const tally = { alice: new Map<number, number>(), guesses: new Map<number, number>() }
    let n = 0
    const loop = async (agent: Agent, who: 'alice' | 'guesses'): Promise<void> => {
      while (Date.now() < end) {
        const status =
          who === 'alice' ? await send(agent, 'alice', 'right-password') : await send(agent, 'bob', `guess-${n++}`)
        tally[who].set(status, (tally[who].get(status) ?? 0) + 1)
      }
    }
    await Promise.all([
      ...Array.from({ length: Number(values.users) }, () => loop(userAgent, 'alice')),
      ...Array.from({ length: Number(values.guessers) }, () => loop(guessAgent, 'guesses')),
    ])
    userAgent.destroy()
    guessAgent.destroy()
    const fmt = (m: Map<number, number>): string =>
      [...m]
        .sort((a, b) => a[0] - b[0])
        .map(([s, c]) => `${s}: ${c}`)
        .join(', ')
    console.log(
      `${seconds} s, ${values.users} alice connections, ${values.guessers} guesser connections, all from ${NAT}`,
    )
    console.log(`alice (cache hits): ${fmt(tally.alice)}`)
    console.log(`guesses:            ${fmt(tally.guesses)}`)
    console.log(`provider checks:    ${statSync(calls).size} (alice's first login included)`)
  } finally {
    await gw.stop()
    app.closeAllConnections()
    await new Promise((resolve) => app.close(resolve))
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
