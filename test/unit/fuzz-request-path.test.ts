/**
 * Whole-request-path properties (fast-check, fixed seeds, bounded runs) against a real gateway on
 * loopback with an echo upstream that records what reached it. Requests are written as raw bytes,
 * so headers can hold what a well-behaved client would never send. For every input:
 *  - the server answers (never crashes or hangs) and keeps answering;
 *  - a protected route answers 200 only for the one valid login (alice / s3cret), and otherwise
 *    one of 400, 401, 403, 404, 413, 429, with nothing reaching the upstream;
 *  - no forged identity header reaches the upstream.
 */
import { before, after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js'

const ONE_USER = fileURLToPath(new URL('../fixtures/providers/one-user.ts', import.meta.url))
const REFUSED = new Set([400, 401, 403, 404, 413, 429])
const VALID_BASIC = `Basic ${Buffer.from('alice:s3cret').toString('base64')}`

let gw: TestGateway
let echo: EchoUpstream
let cleanup: () => void

before(async () => {
  const tmp = tempDir()
  cleanup = tmp.cleanup
  echo = await startEchoUpstream()
  gw = await startGateway(
    {
      log: { level: 'warn' },
      throttle: { enabled: false },
      // A random Content-Length on the public route announces a body that never comes: Node answers 408.
      limits: { headersTimeout: '1s', requestTimeout: '2s' },
      providers: { one: { type: 'module', module: ONE_USER, threads: 2 } },
      routes: [
        { path: '/basic', upstream: echo.url, auth: { realm: 'Fuzz', provider: 'one' } },
        {
          path: '/digest',
          upstream: echo.url,
          auth: { scheme: ['digest'], realm: 'Fuzz', provider: 'one', algorithms: ['SHA-256', 'MD5'], cache: false },
        },
        {
          path: '/staff',
          upstream: echo.url,
          auth: { realm: 'Fuzz', provider: 'one', require: { groups: ['admins'] } },
        },
        { path: '/public', upstream: echo.url },
      ],
    },
    tmp.dir,
  )
})

after(async () => {
  await gw?.close()
  await echo?.close()
  cleanup?.()
})

interface Raw {
  status: number
  head: string
}

/** One request as raw latin1 bytes on a fresh connection; resolves with the status line's code (0: no answer). */
function send(path: string, headers: Array<[string, string]>): Promise<Raw> {
  const lines = [
    `GET ${path} HTTP/1.1`,
    'Host: fuzz.test',
    ...headers.map(([k, v]) => `${k}: ${v}`),
    'Connection: close',
    '',
    '',
  ]
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: gw.port })
    s.setTimeout(15_000, () => s.destroy())
    let out = ''
    s.setEncoding('latin1')
    s.on('data', (c: string) => {
      out += c
    })
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') reject(err)
    })
    s.on('close', () =>
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(out)?.[1] ?? 0), head: out.split('\r\n\r\n')[0] ?? '' }),
    )
    // Not end(): Node's server drops the requests of a client that half-closes before the answer.
    s.write(Buffer.from(lines.join('\r\n'), 'latin1'))
  })
}

/** Independent oracle: is this header value exactly alice / s3cret in Basic (scheme case-insensitive, strict base64)? */
function isValidBasic(value: string): boolean {
  const m = /^[ \t]*([A-Za-z]+) +([A-Za-z0-9+/]+={0,2})[ \t]*$/.exec(value)
  return (
    m !== null &&
    m[1]!.toLowerCase() === 'basic' &&
    Buffer.from(m[2]!, 'base64').toString('utf8') === 'alice:s3cret' &&
    Buffer.from(Buffer.from(m[2]!, 'base64').toString('utf8')).toString('base64').replace(/=+$/, '') ===
      m[2]!.replace(/=+$/, '')
  )
}

/** Character-level mutations of a valid header: insert, delete, replace, duplicate a slice, change case. */
const mutation = (valid: string) =>
  fc
    .array(
      fc.oneof(
        fc.record({
          op: fc.constant('insert' as const),
          at: fc.nat(),
          ch: fc.string({ unit: 'binary', minLength: 1, maxLength: 3 }),
        }),
        fc.record({ op: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 4 }) }),
        fc.record({ op: fc.constant('replace' as const), at: fc.nat(), ch: fc.integer({ min: 0x20, max: 0xff }) }),
        fc.record({ op: fc.constant('dup' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 8 }) }),
        fc.record({ op: fc.constant('case' as const), at: fc.nat() }),
      ),
      { minLength: 1, maxLength: 4 },
    )
    .map((ops) => {
      let s = valid
      for (const o of ops) {
        const i = s.length === 0 ? 0 : o.at % s.length
        if (o.op === 'insert') s = s.slice(0, i) + o.ch + s.slice(i)
        else if (o.op === 'delete') s = s.slice(0, i) + s.slice(i + o.len)
        else if (o.op === 'replace') s = s.slice(0, i) + String.fromCharCode(o.ch) + s.slice(i + 1)
        else if (o.op === 'dup') s = s.slice(0, i + o.len) + s.slice(i, i + o.len) + s.slice(i + o.len)
        else {
          const c = s.charAt(i)
          s = s.slice(0, i) + (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) + s.slice(i + 1)
        }
      }
      return s.replace(/[\r\n\0]/g, '')
    })

/** Header values a client can put on the wire (no CR, LF or NUL; any other octet). */
const headerValue = fc.string({
  unit: fc
    .integer({ min: 0x01, max: 0xff })
    .filter((c) => c !== 0x0a && c !== 0x0d)
    .map((c) => String.fromCharCode(c)),
  maxLength: 300,
})

/** `valid`: the oracle says this is the one good login, so it must pass; otherwise it must be refused before the upstream. */
async function expectRefusedOrValid(path: string, value: string, valid: boolean): Promise<void> {
  const seenBefore = echo.seen.length
  const res = await send(path, [['Authorization', value]])
  if (valid) {
    assert.equal(res.status, 200, `the valid login ${JSON.stringify(value)} was refused`)
    assert.equal(echo.seen.length, seenBefore + 1)
    assert.equal(echo.seen.at(-1)!.headers['x-remote-user'], 'alice')
    return
  }
  assert.ok(REFUSED.has(res.status), `status ${res.status} for ${JSON.stringify(value)}`)
  assert.equal(echo.seen.length, seenBefore, `the upstream saw a request for ${JSON.stringify(value)}`)
}

describe('fuzzing the whole request path', () => {
  test('arbitrary Authorization values on a protected route never pass and never reach the upstream', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          headerValue,
          headerValue.map((v) => `Basic ${v}`),
          headerValue.map((v) => `Digest ${v}`),
          fc.base64String({ maxLength: 200 }).map((v) => `Basic ${v}`),
        ),
        async (value) => expectRefusedOrValid('/basic/x', value, isValidBasic(value)),
      ),
      { seed: 0x7617, numRuns: 200 },
    )
  })

  test('mutations of the valid Basic header pass only when they still say alice / s3cret exactly', async () => {
    await fc.assert(
      fc.asyncProperty(mutation(VALID_BASIC), async (value) =>
        expectRefusedOrValid('/basic/x', value, isValidBasic(value)),
      ),
      { seed: 0x2617, numRuns: 250 },
    )
    await expectRefusedOrValid('/basic/x', VALID_BASIC, true)
  })

  test('the valid login outside require groups gets 403, and no mutation gets further', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.constant(VALID_BASIC), mutation(VALID_BASIC)), async (value) => {
        await expectRefusedOrValid('/staff/x', value, false)
      }),
      { seed: 0x403, numRuns: 60 },
    )
  })

  test('a valid Digest response passes, and with any one security field changed never passes', async () => {
    const fields = [
      'username',
      'realm',
      'nonce',
      'uri',
      'response',
      'cnonce',
      'nc',
      'qop',
      'algorithm',
      'opaque',
    ] as const
    /** A complete, valid login answering a fresh challenge (a fresh nonce each time: no count is ever replayed). */
    const validLogin = async (algorithm: string): Promise<Record<string, string>> => {
      const challenge = (await send('/digest/x', [])).head
      const nonce = /nonce="([^"]+)"/.exec(challenge)?.[1]
      const opaque = /opaque="([^"]+)"/.exec(challenge)?.[1]
      assert.ok(nonce && opaque, 'the digest route sent a nonce and an opaque')
      const p: Record<string, string> = {
        username: 'alice',
        realm: 'Fuzz',
        nonce,
        uri: '/digest/x',
        cnonce: randomBytes(8).toString('hex'),
        nc: '00000001',
        qop: 'auth',
        algorithm,
        opaque,
      }
      p.response = digestResponse(p, 's3cret')
      return p
    }
    const header = (p: Record<string, string>): string =>
      `Digest ${Object.entries(p)
        .map(([k, v]) =>
          (k === 'nc' || k === 'qop' || k === 'algorithm') && /^[\w-]+$/.test(v) ? `${k}=${v}` : `${k}="${v}"`,
        )
        .join(', ')}`
    // The unchanged login must pass, or every refusal below could be for a reason the fuzz never meant.
    for (const algorithm of ['SHA-256', 'MD5'])
      await expectRefusedOrValid('/digest/x', header(await validLogin(algorithm)), true)
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...fields),
        fc.string({
          unit: fc.constantFrom(...'abcdef0123456789ABCDEFxyz/=.-_'.split('')),
          minLength: 1,
          maxLength: 64,
        }),
        fc.constantFrom('SHA-256', 'MD5'),
        async (field, replacement, algorithm) => {
          const p = await validLogin(algorithm)
          if (replacement === p[field] || (field === 'response' && replacement.toLowerCase() === p.response)) return
          if (field === 'algorithm' && (replacement === 'MD5' || replacement === 'SHA-256')) return
          p[field] = replacement
          await expectRefusedOrValid('/digest/x', header(p), false)
        },
      ),
      { seed: 0x7616, numRuns: 150 },
    )
  })

  test('random paths and header sets never crash the server, never pass, and never carry a forged identity upstream', async () => {
    const segment = fc.oneof(
      fc.constantFrom(
        'basic',
        'digest',
        'public',
        'staff',
        '..',
        '.',
        '%2e%2e',
        '%2F',
        '%00',
        '',
        'x',
        '%ZZ',
        '\\',
        ';a=b',
      ),
      fc.stringMatching(/^[A-Za-z0-9._~%!$&'()*+,;=:@-]{0,12}$/),
    )
    const path = fc.array(segment, { minLength: 1, maxLength: 5 }).map((s) => `/${s.join('/')}`)
    const name = fc.oneof(
      fc.constantFrom(
        'X-Remote-User',
        'x-remote-user',
        'X_Remote_User',
        'X-Remote-Groups',
        'X-Forwarded-For',
        'Forwarded',
        'Content-Length',
        'Transfer-Encoding',
        'Expect',
        'Proxy-Authorization',
        'Authorization',
      ),
      fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}$/),
    )
    await fc.assert(
      fc.asyncProperty(path, fc.array(fc.tuple(name, headerValue), { maxLength: 8 }), async (p, headers) => {
        const seenBefore = echo.seen.length
        const res = await send(p, headers)
        assert.ok(res.status >= 200 && res.status < 500, `status ${res.status} for ${p} ${JSON.stringify(headers)}`)
        // Node's own parser answers an Expect other than 100-continue with 417 before any route runs.
        const expectation = headers.some(
          ([k, v]) => k.toLowerCase() === 'expect' && v.trim().toLowerCase() !== '100-continue',
        )
        const reached = echo.seen.slice(seenBefore)
        for (const r of reached) {
          assert.equal(r.headers['x-remote-user'], undefined, 'no identity without credentials')
          assert.equal(r.headers['x-remote-groups'], undefined)
          assert.ok(!Object.keys(r.headers).some((h) => h.includes('_')), 'no look-alike header names')
          assert.ok(
            r.url.startsWith('/public'),
            `only the public route reaches the upstream unauthenticated, got ${r.url}`,
          )
        }
        if (!p.startsWith('/public')) {
          assert.ok(REFUSED.has(res.status) || (expectation && res.status === 417), `status ${res.status} for ${p}`)
          assert.equal(reached.length, 0)
        }
      }),
      { seed: 0x1234, numRuns: 200 },
    )
    assert.equal((await send('/public/still-alive', [])).status, 200)
  })
})

/** RFC 7616 §3.4.1, written out here on its own so the oracle does not share code with the server. */
function digestResponse(p: Record<string, string>, password: string): string {
  const h = (s: string) =>
    createHash(p.algorithm === 'MD5' ? 'md5' : 'sha256')
      .update(s)
      .digest('hex')
  return h(`${h(`${p.username}:${p.realm}:${password}`)}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${h(`GET:${p.uri}`)}`)
}
