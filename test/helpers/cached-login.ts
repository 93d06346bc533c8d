/**
 * Probes for the tests that change a provider's data under a running gateway whose credential
 * cache holds a login: ask, log in twice (the second from the cache, proved by its hit counter),
 * repeat an old login until it is refused within a bound, and wait until every provider thread
 * reported the change. The Digest answer is computed here with node:crypto, not by the server's code.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import type { EchoUpstream } from './echo-upstream.js'
import type { TestGateway } from './gateway.js'

export interface Answer {
  status: number
  challenge: string | null
}
export type Authorization = string | (() => Promise<string> | string)

const md5 = (s: string) => createHash('md5').update(s).digest('hex')
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export class CachedLoginProbe {
  constructor(
    private readonly gw: TestGateway,
    private readonly upstream: EchoUpstream,
    private readonly boundMs: number,
  ) {}

  async get(path: string, authorization?: string): Promise<Answer> {
    const res = await fetch(`${this.gw.url}${path}`, { headers: authorization === undefined ? {} : { authorization } })
    await res.arrayBuffer()
    return { status: res.status, challenge: res.headers.get('www-authenticate') }
  }

  /** A Digest MD5 (qop=auth) answer to a fresh challenge of `realm`. */
  async digestMd5(path: string, realm: string, user: string, password: string): Promise<string> {
    const ch = (await this.get(path)).challenge as string
    const nonce = /nonce="([^"]+)"/.exec(ch)![1]!
    const opaque = /opaque="([^"]+)"/.exec(ch)![1]!
    const cnonce = 'fedcba9876543210'
    const ha1 = md5(`${user}:${realm}:${password}`)
    const response = md5(`${ha1}:${nonce}:00000001:${cnonce}:auth:${md5(`GET:${path}`)}`)
    return `Digest username="${user}", realm="${realm}", nonce="${nonce}", uri="${path}", algorithm=MD5, qop=auth, nc=00000001, cnonce="${cnonce}", response="${response}", opaque="${opaque}"`
  }

  /** Logs in twice; the second answer must come from the cache (its hit counter moves), or the test would prove nothing. */
  async loginCached(path: string, authorization: Authorization, cache: { hits: number }): Promise<void> {
    assert.equal((await this.get(path, await header(authorization))).status, 200)
    const hits = cache.hits
    assert.equal((await this.get(path, await header(authorization))).status, 200)
    assert.equal(cache.hits, hits + 1, 'the second login was answered from the cache')
  }

  /**
   * Repeats the old login until it gets `status`, for at most the bound after the change returned.
   * Returns the last answer and how many requests the upstream saw meanwhile beyond those let in.
   */
  async refusedWithin(
    path: string,
    authorization: Authorization,
    status: number,
  ): Promise<Answer & { leaked: number }> {
    const deadline = Date.now() + this.boundMs
    for (;;) {
      const seen = this.upstream.seen.length
      const r = await this.get(path, await header(authorization))
      if (r.status === status || Date.now() >= deadline)
        return { ...r, leaked: r.status === status ? this.upstream.seen.length - seen : 0 }
      await pause(50)
    }
  }

  /**
   * Each provider thread watches the database and reports a change on its own: waits (bounded)
   * until `threads` of them have since log line `mark`, so a later report cannot empty the cache
   * in the middle of the next test.
   */
  async threadsReported(provider: string, threads: number, mark: number): Promise<void> {
    const deadline = Date.now() + this.boundMs
    for (;;) {
      const seen = new Set<number>()
      for (const line of this.gw.logs.slice(mark)) {
        const rec = JSON.parse(line) as { msg?: string; provider?: string; thread?: number }
        if (
          rec.msg === 'provider data changed: cache entries dropped' &&
          rec.provider === provider &&
          typeof rec.thread === 'number'
        )
          seen.add(rec.thread)
      }
      if (seen.size === threads) return
      assert.ok(Date.now() < deadline, `only threads ${[...seen].join(', ')} reported the change`)
      await pause(25)
    }
  }
}

async function header(authorization: Authorization): Promise<string> {
  return typeof authorization === 'string' ? authorization : authorization()
}
