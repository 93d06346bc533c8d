/**
 * The Redis side of the shared state on its own, against a real redis-server (Debian's, on a
 * unix socket in a temporary directory, stopped by its PID): the Lua throttle scripts answer
 * exactly as the in-process MemoryThrottleStore does for the same sequence of operations, the
 * nonce-count window exactly as NonceManager's, every key they write has a TTL, a credential-
 * cache hit sends Redis no command at all, and `gatehouse check-config` PINGs state.redis.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { Redis } from 'ioredis'
import { MemoryThrottleStore, type CountedKey, type ThrottleStore } from '../../src/auth/throttle-store.js'
import { NonceManager } from '../../src/auth/nonce.js'
import { SharedState } from '../../src/state/shared-state.js'
import { createLogger } from '../../src/log.js'
import { checkConfigCommand } from '../../src/cli/commands/check-config.js'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'
import { startGateway, tempDir, writeFile } from '../helpers/gateway.js'
import { skipUnlessRedis, startRedis, type RedisServer } from './helpers/redis.js'

const skip = skipUnlessRedis()
const PREFIX = 'gatehouse:store-test:'
const THROTTLE = {
  enabled: true,
  maxEntries: 1000,
  maxLockoutMs: 40_000,
  delayMs: 0,
  maxDelayMs: 0,
  perAddress: { maxFailures: 3, windowMs: 10_000, lockoutMs: 5_000 },
}
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`

describe('the Redis state store', { skip }, () => {
  let redis: RedisServer
  let dir: string
  let cleanup: () => void
  let state: SharedState
  let probe: Redis

  before(async () => {
    const t = tempDir('gh-state-store-')
    dir = t.dir
    cleanup = t.cleanup
    redis = await startRedis(dir)
    state = new SharedState({ redis: redis.url, prefix: PREFIX, timeoutMs: 1000 }, createLogger('silent'))
    await state.start()
    probe = new Redis({ path: redis.socket })
  })

  after(async () => {
    probe?.disconnect()
    await state?.close()
    await redis?.stop()
    cleanup?.()
  })

  test('the Lua scripts answer every step of a throttle sequence as MemoryThrottleStore does (slots in flight, window, lockouts doubling, repeated credentials)', async () => {
    const shared = state.throttleStore(THROTTLE)
    const local = new MemoryThrottleStore({ maxEntries: 1000, maxLockoutMs: THROTTLE.maxLockoutMs })
    const addr: CountedKey = { scope: 'address', id: '198.51.100.9', rule: THROTTLE.perAddress }
    const user: CountedKey = {
      scope: 'user',
      id: 'r\0alice',
      rule: { maxFailures: 4, windowMs: 10_000, lockoutMs: 3_000 },
    }
    const t0 = 1_700_000_000_000
    // Each step runs on both stores; the answers and the lockout left must be equal.
    const steps: Array<[number, (s: ThrottleStore, keys: Map<ThrottleStore, CountedKey[][]>) => unknown]> = []
    const reserve = (at: number, keys: CountedKey[]) =>
      steps.push([
        at,
        async (s, held) => {
          const r = await s.reserve(keys, at)
          if (r.ok) (held.get(s) ?? held.set(s, []).get(s)!).push(keys)
          return r
        },
      ])
    const settle = (at: number, failed: boolean) =>
      steps.push([at, async (s, held) => s.settle(held.get(s)!.shift()!, failed, at)])
    const fail = (at: number, key: CountedKey, credential?: string) =>
      steps.push([at, async (s) => s.fail(key, at, credential)])
    // Three attempts in flight fill the address's budget; a fourth is refused (busy, not locked).
    reserve(t0, [addr, user])
    reserve(t0 + 1, [addr, user])
    reserve(t0 + 2, [addr, user])
    reserve(t0 + 3, [addr, user])
    settle(t0 + 10, false)
    settle(t0 + 11, true)
    settle(t0 + 12, true)
    reserve(t0 + 20, [addr])
    settle(t0 + 21, true) // the third failure: lockout of 5 s
    reserve(t0 + 30, [addr]) // locked
    fail(t0 + 40, user, 'cred-1')
    fail(t0 + 41, user, 'cred-1')
    fail(t0 + 42, user, 'cred-2') // user: 4th failure locks it
    reserve(t0 + 5_100, [addr])
    settle(t0 + 5_101, true) // lockout over; window still holds nothing (cleared at lockout)
    fail(t0 + 5_200, addr)
    fail(t0 + 5_300, addr) // second lockout: doubled, 10 s
    fail(t0 + 20_000, addr)
    fail(t0 + 20_001, addr)
    fail(t0 + 20_002, addr) // third: 20 s
    fail(t0 + 60_000, addr)
    fail(t0 + 60_001, addr)
    fail(t0 + 60_002, addr) // 40 s (maxLockout)
    fail(t0 + 200_000, addr)
    fail(t0 + 200_001, addr)
    fail(t0 + 200_002, addr) // quiet for maxLockout: back to 5 s
    fail(t0 + 220_000, addr)
    fail(t0 + 235_000, addr)
    fail(t0 + 236_000, addr) // the first left the window: no lockout
    const held = new Map<ThrottleStore, CountedKey[][]>()
    for (const [i, [at, step]] of steps.entries()) {
      const want = await step(local, held)
      const got = await step(shared, held)
      assert.deepEqual(got, want, `step ${i} at t0+${at - t0}`)
      for (const k of [addr, user])
        assert.equal(
          shared.lockedFor(k.scope, k.id, at),
          local.lockedFor(k.scope, k.id, at),
          `lockedFor ${k.scope} after step ${i}`,
        )
    }
  })

  test("the Redis nonce-count window accepts and refuses exactly as NonceManager's (replays, out of order, below the window, without nc)", async () => {
    const manager = new NonceManager({ secret: randomBytes(32) })
    const counts = state.nonceCounts(300_000)
    const nonce = manager.issue('r')
    const other = manager.issue('r')
    const uses: Array<[string, string | undefined]> = [
      [nonce, '00000001'],
      [nonce, '00000001'],
      [nonce, '00000003'],
      [nonce, '00000002'],
      [nonce, '00000002'],
      [nonce, '00000050'],
      [nonce, '0000000f'],
      [nonce, '00000040'],
      [nonce, '00000041'],
      [nonce, '000000c8'],
      [nonce, '00000050'],
      [nonce, '00000089'],
      [nonce, '00000088'],
      [nonce, '00000000'],
      [nonce, 'xyz'],
      [other, undefined],
      [other, undefined],
      [other, '00000001'],
    ]
    for (const [n, nc] of uses)
      assert.equal(
        await counts.use(n, nc),
        manager.useCount(n, nc),
        `${n === nonce ? 'nonce' : 'other'} nc=${String(nc)}`,
      )
  })

  test('every key the scripts wrote expires (a TTL on each, none longer than a day)', async () => {
    const keys = await probe.keys(`${PREFIX}*`)
    assert.ok(keys.length >= 4, `keys: ${keys.join(', ')}`)
    for (const k of keys) {
      const ttl = await probe.pttl(k)
      assert.ok(ttl > 0 && ttl <= 86_400_000, `${k}: PTTL ${ttl}`)
    }
  })

  test('a credential-cache hit sends Redis no command: the command counts stay still over 20 cached logins', async (t) => {
    const upstream: EchoUpstream = await startEchoUpstream()
    t.after(() => upstream.close())
    // bcrypt cost 4 of "pw" for "carol", made by htpasswd -B -C 4.
    writeFile(dir, 'users.htpasswd', 'carol:$2y$04$QVgnZq6V6DE1XJgdgORbuusZ6v9KM4CzPqneFkOOSVA9Wkata7j.C\n')
    const gw = await startGateway(
      {
        state: { redis: redis.url, prefix: PREFIX },
        providers: { users: { type: 'htpasswd', file: './users.htpasswd', threads: 1 } },
        routes: [{ path: '/', upstream: upstream.url, auth: { scheme: 'basic', realm: 'R', provider: 'users' } }],
      },
      dir,
    )
    t.after(() => gw.close())
    const login = async (password: string) => {
      const res = await fetch(gw.url, {
        headers: { authorization: basic('carol', password) },
        signal: AbortSignal.timeout(10_000),
      })
      await res.arrayBuffer()
      return res.status
    }
    assert.equal(await login('pw'), 200)
    const commands = async (): Promise<number> => {
      const info = await probe.info('commandstats')
      let n = 0
      for (const m of info.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) if (m[1] !== 'info') n += Number(m[2])
      return n
    }
    const before = await commands()
    const hits = gw.gw.gatehouse.deps.identities.hits
    for (let i = 0; i < 20; i++) assert.equal(await login('pw'), 200)
    assert.equal(gw.gw.gatehouse.deps.identities.hits, hits + 20, 'all 20 were cache hits')
    assert.equal(await commands(), before, 'no command reached Redis')
    // The check can fail: a login that asks the provider does reach Redis.
    assert.equal(await login('wrong'), 401)
    assert.ok((await commands()) > before)
  })

  test('check-config PINGs state.redis: ok when it answers; a problem under the key state.redis, exit 1, when it does not', async () => {
    const run = async (redisUrl: string) => {
      const file = writeFile(
        dir,
        'check.yaml',
        `state: { redis: "${redisUrl}" }\nroutes: [{ path: /, upstream: "http://127.0.0.1:9" }]\n`,
      )
      let out = ''
      let err = ''
      const code = await checkConfigCommand(['--config', file], {
        stdin: new PassThrough(),
        stdout: (s) => {
          out += s
        },
        stderr: (s) => {
          err += s
        },
      })
      return { code, out, err }
    }
    const ok = await run(redis.url)
    assert.equal(ok.code, 0, ok.err)
    assert.match(ok.out, /^ok: 1 routes/)
    const missing = join(dir, 'no-such.sock')
    const bad = await run(`unix://${missing}`)
    assert.equal(bad.code, 1)
    assert.match(
      bad.err,
      new RegExp(`check\\.yaml: state\\.redis: cannot reach unix://${missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`),
    )
    assert.match(bad.err, /fix: start that Redis or correct state\.redis/)
  })
})
