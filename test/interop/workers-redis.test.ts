/**
 * Front workers (`workers: 2`) with `state.redis`: each worker is an instance of its own on a
 * real redis-server (Debian's, on a unix socket in a temporary directory, stopped by its PID);
 * the primary holds no state. The guarantees between the workers are Redis's, and so are the
 * fallbacks when Redis dies.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { tempDir, writeFile } from '../helpers/gateway.js'
import { startEchoUpstream } from '../helpers/echo-upstream.js'
import { httpGet } from '../helpers/http-get.js'
import { digestAuthorization } from '../helpers/digest-client.js'
import { accessPids, startWorkers, until } from '../helpers/workers-gateway.js'
import { skipUnlessRedis, startRedis } from './helpers/redis.js'

const skip = skipUnlessRedis()
const REALM = 'workers'

test(
  'workers sharing a Redis: a Digest header accepted by one is a replay on the other; Redis dead: 503 on both, never a hang; back: Digest works again',
  { skip },
  async (t) => {
    const { dir, cleanup } = tempDir('gh-workers-redis-')
    const redis = await startRedis(dir)
    t.after(() => redis.stop())
    const ha1 = createHash('md5').update(`dora:${REALM}:dora-pw`).digest('hex')
    writeFile(dir, 'users.htdigest', `dora:${REALM}:${ha1}\n`)
    const up = await startEchoUpstream()
    t.after(() => up.close())
    const w = await startWorkers(
      t,
      {
        providers: { hashes: { type: 'htdigest', file: 'users.htdigest' } },
        routes: [{ path: '/', upstream: up.url, auth: { scheme: 'digest', realm: REALM, provider: 'hashes' } }],
        state: { redis: redis.url, prefix: 'gh-workers-test:', timeout: '250ms' },
      },
      dir,
    )
    // After the gateway's stop (hooks run in order): its daemons and providers read files there.
    t.after(cleanup)
    const login = async (nc: string) => {
      const challenge = await httpGet(w.port, '/digest')
      assert.equal(challenge.status, 401)
      return digestAuthorization(String(challenge.headers['www-authenticate']), {
        username: 'dora',
        password: 'dora-pw',
        realm: REALM,
        uri: '/digest',
        nc,
      })
    }
    const authorization = await login('00000001')
    const answers = []
    for (let i = 0; i < 4; i++) answers.push(await httpGet(w.port, '/digest', { authorization }))
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 401, 401, 401],
    )
    for (const replay of answers.slice(1)) assert.match(String(replay.headers['www-authenticate']), /stale=true/)
    assert.equal(up.seen.filter((s) => s.url === '/digest').length, 1)
    await until('both workers to have answered', () => accessPids(w.workerLines).size === 2)

    await redis.kill()
    const fresh = await login('00000001')
    const started = Date.now()
    const down = [
      await httpGet(w.port, '/digest', { authorization: fresh }),
      await httpGet(w.port, '/digest', { authorization: fresh }),
    ]
    t.diagnostic(`two Digest requests with Redis dead answered in ${Date.now() - started} ms`)
    for (const r of down) {
      assert.equal(r.status, 503)
      assert.ok(Number(r.headers['retry-after']) > 0)
    }
    assert.equal(
      up.seen.filter((s) => s.url === '/digest').length,
      1,
      'nothing let in while the replay check cannot be made',
    )
    const metrics = await (await fetch(`${w.admin}/metrics`)).text()
    assert.match(metrics, /^gatehouse_state_store_up\{store="redis"\} 0$/m)
    assert.match(metrics, /^gatehouse_state_store_fallbacks_total\{store="redis",state="nonce_counts"\} [1-9]/m)

    await redis.restart()
    await until(
      'Digest to work again on both workers',
      async () => {
        const again = await login('00000001')
        const a = await httpGet(w.port, '/digest', { authorization: again })
        return a.status === 200
      },
      20_000,
    )
  },
)
