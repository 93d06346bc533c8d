import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readlinkSync, realpathSync } from 'node:fs'
import { mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { parseRange, sendFile } from '../../src/proxy/send-file.js'
import type { FileResponse } from '../../src/proxy/send-file.js'

const CONTENT = '0123456789'.repeat(10) // 100 bytes
const MTIME = new Date('2024-03-01T12:00:00Z')
const LAST_MODIFIED = MTIME.toUTCString()

let base: string
let root: string
let app: FastifyInstance
const logLines: string[] = []

before(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'gh-send-file-'))
  root = path.join(base, 'root')
  await mkdir(path.join(root, 'dir'), { recursive: true })
  await mkdir(path.join(base, 'outside'))
  await writeFile(path.join(root, 'a.txt'), CONTENT)
  await writeFile(path.join(root, 'data.json'), '{"a":1}')
  await writeFile(path.join(root, 'blob.unknownext'), 'x')
  await writeFile(path.join(root, 'empty.txt'), '')
  await writeFile(path.join(base, 'outside', 'secret.txt'), 'secret')
  // A sibling whose name starts with the root's: inside by a string prefix, outside by path.
  await mkdir(path.join(base, 'root-evil'))
  await writeFile(path.join(base, 'root-evil', 'secret.txt'), 'secret')
  await symlink(path.join(base, 'root-evil', 'secret.txt'), path.join(root, 'link-evil.txt'))
  await symlink(path.join(base, 'outside', 'secret.txt'), path.join(root, 'link-out.txt'))
  await symlink(path.join(base, 'outside'), path.join(root, 'dir-out'))
  await symlink('a.txt', path.join(root, 'link-in.txt'))
  await symlink(root, path.join(base, 'root-link'))
  for (const f of ['a.txt', 'empty.txt']) await utimes(path.join(root, f), MTIME, MTIME)
  app = Fastify({
    logger: {
      level: 'error',
      stream: {
        write: (line: string) => {
          logLines.push(line)
        },
      },
    },
  })
  app.route({
    method: ['GET', 'HEAD', 'POST'],
    url: '/*',
    handler: async (req, reply) => {
      const spec = JSON.parse(String(req.headers['x-file'])) as FileResponse & { roots?: string[] }
      await sendFile(req.raw, reply, spec, spec.roots ?? [root])
      return reply
    },
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
})

after(async () => {
  await app.close()
  await rm(base, { recursive: true, force: true })
})

function get(
  file: Partial<FileResponse> & { roots?: string[] },
  headers: Record<string, string> = {},
  method: 'GET' | 'HEAD' | 'POST' = 'GET',
) {
  return app.inject({
    method,
    url: '/f',
    headers: { 'x-file': JSON.stringify({ path: 'a.txt', ...file }), ...headers },
  })
}

describe('sendFile: full responses', () => {
  test('sends the file with Content-Length, Content-Type, Accept-Ranges, weak ETag and Last-Modified', async () => {
    const res = await get({})
    assert.equal(res.statusCode, 200)
    assert.equal(res.body, CONTENT)
    assert.equal(res.headers['content-length'], '100')
    assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8')
    assert.equal(res.headers['accept-ranges'], 'bytes')
    assert.match(String(res.headers.etag), /^W\/"[0-9a-f]+-[0-9a-f]+-0-64"$/)
    assert.equal(res.headers['last-modified'], LAST_MODIFIED)
  })

  test('HEAD answers the same headers and no body', async () => {
    const res = await get({}, {}, 'HEAD')
    assert.equal(res.statusCode, 200)
    assert.equal(res.body, '')
    assert.equal(res.headers['content-length'], '100')
    assert.equal(res.headers['last-modified'], LAST_MODIFIED)
  })

  test('Content-Type: the given one, else the app header, else by extension, else octet-stream', async () => {
    assert.equal((await get({ contentType: 'text/x-custom' })).headers['content-type'], 'text/x-custom')
    assert.equal((await get({ headers: { 'Content-Type': 'text/x-app' } })).headers['content-type'], 'text/x-app')
    assert.equal((await get({ path: 'data.json' })).headers['content-type'], 'application/json')
    assert.equal((await get({ path: 'blob.unknownext' })).headers['content-type'], 'application/octet-stream')
  })

  test('passes app headers but never lets them describe the bytes', async () => {
    const res = await get({
      headers: {
        'cache-control': 'max-age=60',
        'content-length': '5',
        etag: '"forged"',
        'transfer-encoding': 'chunked',
      },
    })
    assert.equal(res.headers['cache-control'], 'max-age=60')
    assert.equal(res.headers['content-length'], '100')
    assert.notEqual(res.headers.etag, '"forged"')
    assert.equal(res.headers['transfer-encoding'], undefined)
    assert.equal(res.body, CONTENT)
  })

  test('an empty file is 200 with Content-Length 0', async () => {
    const res = await get({ path: 'empty.txt' })
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['content-length'], '0')
    assert.equal(res.body, '')
  })

  test('a status other than 200 sends the whole window and ignores Range and conditionals', async () => {
    const res = await get({ status: 404 }, { range: 'bytes=0-1', 'if-none-match': '*' })
    assert.equal(res.statusCode, 404)
    assert.equal(res.body, CONTENT)
    assert.equal(res.headers['content-range'], undefined)
  })
})

describe('sendFile: confinement to the roots', () => {
  test('a missing file is 404', async () => {
    const res = await get({ path: 'nope.txt' })
    assert.equal(res.statusCode, 404)
    assert.equal(res.body, 'Not Found\n')
  })

  test('a directory is 403', async () => {
    assert.equal((await get({ path: 'dir' })).statusCode, 403)
    assert.equal((await get({ path: root })).statusCode, 403)
  })

  test('../ traversal is 403, relative or absolute, existing or not', async () => {
    for (const p of [
      '../outside/secret.txt',
      path.join(root, '..', 'outside', 'secret.txt'),
      'dir/../../outside/secret.txt',
      '../outside/missing.txt',
      '/etc/passwd',
    ]) {
      const res = await get({ path: p })
      assert.equal(res.statusCode, 403, p)
      assert.equal(res.body, 'Forbidden\n', p)
    }
  })

  test('a symlink escaping the root is 403, to a file or through a directory', async () => {
    assert.equal((await get({ path: 'link-out.txt' })).statusCode, 403)
    assert.equal((await get({ path: 'dir-out/secret.txt' })).statusCode, 403)
  })

  test("a sibling directory whose name extends the root's (root-evil) is outside: 403, by path, absolute path or symlink", async () => {
    for (const p of ['../root-evil/secret.txt', path.join(base, 'root-evil', 'secret.txt'), 'link-evil.txt']) {
      const res = await get({ path: p })
      assert.equal(res.statusCode, 403, p)
      assert.notEqual(res.body, 'secret', p)
    }
  })

  test('a symlink staying inside the root is served', async () => {
    const res = await get({ path: 'link-in.txt' })
    assert.equal(res.statusCode, 200)
    assert.equal(res.body, CONTENT)
  })

  test('a root that is itself a symlink is resolved, files under it are served', async () => {
    const res = await get({ path: path.join(base, 'root-link', 'a.txt'), roots: [path.join(base, 'root-link')] })
    assert.equal(res.statusCode, 200)
    assert.equal(res.body, CONTENT)
  })

  test('no roots, an empty path or a NUL byte is 403', async () => {
    assert.equal((await get({ roots: [] })).statusCode, 403)
    assert.equal((await get({ path: '' })).statusCode, 403)
    assert.equal((await get({ path: 'a.txt\0.png' })).statusCode, 403)
  })

  test('a FIFO is 403 and does not block', { skip: process.platform === 'win32' }, async () => {
    const fifo = path.join(root, 'pipe')
    execFileSync('mkfifo', [fifo])
    try {
      assert.equal((await get({ path: 'pipe' })).statusCode, 403)
    } finally {
      await rm(fifo)
    }
  })
})

describe('sendFile: Range', () => {
  const cases: Array<[string, string, string, string]> = [
    ['bytes=0-9', 'bytes 0-9/100', '10', CONTENT.slice(0, 10)],
    ['bytes=90-', 'bytes 90-99/100', '10', CONTENT.slice(90)],
    ['bytes=-5', 'bytes 95-99/100', '5', CONTENT.slice(95)],
    ['bytes=50-1000', 'bytes 50-99/100', '50', CONTENT.slice(50)],
    ['BYTES=3-3', 'bytes 3-3/100', '1', '3'],
  ]
  for (const [range, contentRange, length, body] of cases) {
    test(`${range} is 206 with Content-Range ${contentRange}`, async () => {
      const res = await get({}, { range })
      assert.equal(res.statusCode, 206)
      assert.equal(res.headers['content-range'], contentRange)
      assert.equal(res.headers['content-length'], length)
      assert.equal(res.body, body)
    })
  }

  test('an unsatisfiable range is 416 with Content-Range bytes */size', async () => {
    for (const range of ['bytes=100-', 'bytes=-0']) {
      const res = await get({}, { range })
      assert.equal(res.statusCode, 416, range)
      assert.equal(res.headers['content-range'], 'bytes */100', range)
    }
    const empty = await get({ path: 'empty.txt' }, { range: 'bytes=0-' })
    assert.equal(empty.statusCode, 416)
    assert.equal(empty.headers['content-range'], 'bytes */0')
  })

  test('several ranges, another unit or a malformed range answer the whole file', async () => {
    for (const range of ['bytes=0-1,5-6', 'items=0-5', 'bytes=5-2', 'bytes=a-b']) {
      const res = await get({}, { range })
      assert.equal(res.statusCode, 200, range)
      assert.equal(res.body, CONTENT, range)
    }
  })

  test('Range is ignored for HEAD and POST', async () => {
    const head = await get({}, { range: 'bytes=0-9' }, 'HEAD')
    assert.equal(head.statusCode, 200)
    assert.equal(head.headers['content-length'], '100')
    assert.equal((await get({}, { range: 'bytes=0-9' }, 'POST')).statusCode, 200)
  })

  test('If-Range with the Last-Modified date applies the range, with another date the whole file', async () => {
    assert.equal((await get({}, { range: 'bytes=0-9', 'if-range': LAST_MODIFIED })).statusCode, 206)
    assert.equal(
      (await get({}, { range: 'bytes=0-9', 'if-range': new Date(MTIME.getTime() - 5000).toUTCString() })).statusCode,
      200,
    )
  })

  test('If-Range with an entity tag answers the whole file (a weak ETag never matches strongly)', async () => {
    const etag = String((await get({})).headers.etag)
    for (const ifRange of [etag, etag.slice(2), '"other"']) {
      assert.equal((await get({}, { range: 'bytes=0-9', 'if-range': ifRange })).statusCode, 200, ifRange)
    }
  })
})

describe('sendFile: conditional requests', () => {
  test('If-None-Match with the ETag (weak comparison) or * is 304 with no body', async () => {
    const etag = String((await get({})).headers.etag)
    for (const inm of [etag, etag.slice(2), `"x", ${etag}`, '*']) {
      const res = await get({}, { 'if-none-match': inm })
      assert.equal(res.statusCode, 304, inm)
      assert.equal(res.body, '')
      assert.equal(res.headers.etag, etag)
      assert.equal(res.headers['content-length'], undefined)
    }
    assert.equal((await get({}, { 'if-none-match': '"other"' })).statusCode, 200)
  })

  test('If-Modified-Since at or after Last-Modified is 304, before it 200', async () => {
    assert.equal((await get({}, { 'if-modified-since': LAST_MODIFIED })).statusCode, 304)
    assert.equal(
      (await get({}, { 'if-modified-since': new Date(MTIME.getTime() - 1000).toUTCString() })).statusCode,
      200,
    )
    assert.equal((await get({}, { 'if-modified-since': 'not a date' })).statusCode, 200)
  })

  test('If-Modified-Since is ignored when If-None-Match is present', async () => {
    assert.equal((await get({}, { 'if-none-match': '"other"', 'if-modified-since': LAST_MODIFIED })).statusCode, 200)
  })

  test('If-Match that does not match strongly is 412; * passes', async () => {
    const etag = String((await get({})).headers.etag)
    for (const im of ['"other"', etag]) {
      const res = await get({}, { 'if-match': im })
      assert.equal(res.statusCode, 412, im)
      assert.equal(res.body, 'Precondition Failed\n')
    }
    assert.equal((await get({}, { 'if-match': '*' })).statusCode, 200)
  })

  test('If-Unmodified-Since before Last-Modified is 412, at it 200', async () => {
    assert.equal(
      (await get({}, { 'if-unmodified-since': new Date(MTIME.getTime() - 1000).toUTCString() })).statusCode,
      412,
    )
    assert.equal((await get({}, { 'if-unmodified-since': LAST_MODIFIED })).statusCode, 200)
  })

  test('conditionals are not evaluated for POST', async () => {
    assert.equal((await get({}, { 'if-none-match': '*' }, 'POST')).statusCode, 200)
    assert.equal((await get({}, { 'if-match': '"other"' }, 'POST')).statusCode, 200)
  })
})

describe('sendFile: window given by the app (offset/length)', () => {
  test('sends only the window, and its ETag differs from the whole file', async () => {
    const res = await get({ offset: 10, length: 20 })
    assert.equal(res.statusCode, 200)
    assert.equal(res.body, CONTENT.slice(10, 30))
    assert.equal(res.headers['content-length'], '20')
    assert.notEqual(res.headers.etag, (await get({})).headers.etag)
  })

  test('an offset alone sends the rest of the file', async () => {
    assert.equal((await get({ offset: 95 })).body, CONTENT.slice(95))
  })

  test('Range applies within the window', async () => {
    const res = await get({ offset: 10, length: 20 }, { range: 'bytes=-3' })
    assert.equal(res.statusCode, 206)
    assert.equal(res.headers['content-range'], 'bytes 17-19/20')
    assert.equal(res.body, CONTENT.slice(27, 30))
    const over = await get({ offset: 10, length: 20 }, { range: 'bytes=20-' })
    assert.equal(over.statusCode, 416)
    assert.equal(over.headers['content-range'], 'bytes */20')
  })

  test('a window outside the file is 500 and logs GH_ERR_FILE_RANGE', async () => {
    for (const w of [{ offset: 90, length: 20 }, { offset: -1 }, { offset: 101 }, { length: 101 }, { offset: 1.5 }]) {
      logLines.length = 0
      const res = await get(w)
      assert.equal(res.statusCode, 500, JSON.stringify(w))
      assert.equal(res.body, 'Internal Server Error\n')
      assert.ok(
        logLines.some((l) => l.includes('"code":"GH_ERR_FILE_RANGE"')),
        JSON.stringify(w),
      )
    }
  })
})

describe('sendFile: real sockets', () => {
  function fetchRaw(spec: Partial<FileResponse>, headers: Record<string, string> = {}, method = 'GET') {
    const { port } = app.server.address() as AddressInfo
    return new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/f',
          method,
          headers: { 'x-file': JSON.stringify({ path: 'a.txt', ...spec }), ...headers },
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
          )
          res.on('error', reject)
        },
      )
      req.on('error', reject)
      req.end()
    })
  }

  test('streams a 16 MiB file intact, and a range of it', async () => {
    const big = Buffer.alloc(16 * 1024 * 1024)
    for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(i, i)
    await writeFile(path.join(root, 'big.bin'), big)
    const full = await fetchRaw({ path: 'big.bin' })
    assert.equal(full.status, 200)
    assert.equal(full.headers['content-length'], String(big.length))
    assert.equal(createHash('sha256').update(full.body).digest('hex'), createHash('sha256').update(big).digest('hex'))
    const part = await fetchRaw({ path: 'big.bin' }, { range: 'bytes=1000000-1999999' })
    assert.equal(part.status, 206)
    assert.equal(part.headers['content-range'], `bytes 1000000-1999999/${big.length}`)
    assert.ok(part.body.equals(big.subarray(1000000, 2000000)))
  })

  test(
    'leaves no file descriptor open after HEAD, 304, 412, 416, 500 and full responses',
    { skip: !existsSync('/proc/self/fd') },
    async () => {
      const etag = String((await get({})).headers.etag)
      const realRoot = realpathSync(root)
      const openUnderRoot = (): number =>
        readdirSync('/proc/self/fd').filter((fd) => {
          try {
            return readlinkSync(`/proc/self/fd/${fd}`).startsWith(realRoot)
          } catch {
            return false
          }
        }).length
      const settled = async () => {
        // A stream closes its descriptor just after the last byte leaves, on libuv's thread pool, which other suites may keep busy: let those closes land (bounded, 15 s).
        for (let i = 0; i < 750 && openUnderRoot() > 0; i++) await new Promise((r) => setTimeout(r, 20))
      }
      await settled() // the previous test's 16 MiB stream may still be closing
      assert.equal(openUnderRoot(), 0)
      for (let i = 0; i < 5; i++) {
        await fetchRaw({}, {}, 'HEAD')
        await fetchRaw({}, { 'if-none-match': etag })
        await fetchRaw({}, { 'if-match': '"x"' })
        await fetchRaw({}, { range: 'bytes=500-' })
        await fetchRaw({ offset: 200 })
        await fetchRaw({})
        await fetchRaw({}, { range: 'bytes=1-2' })
      }
      await settled()
      assert.equal(openUnderRoot(), 0)
    },
  )
})

describe('parseRange(header, size)', () => {
  test('parses int-range and suffix-range, clamping last-pos to the size', () => {
    assert.deepEqual(parseRange('bytes=0-0', 10), { start: 0, end: 0 })
    assert.deepEqual(parseRange('bytes=2-', 10), { start: 2, end: 9 })
    assert.deepEqual(parseRange('bytes=-20', 10), { start: 0, end: 9 })
    assert.deepEqual(parseRange('bytes=5-99999999999999999999', 10), { start: 5, end: 9 })
    assert.deepEqual(parseRange('bytes= 1-2 ,', 10), { start: 1, end: 2 })
  })

  test('unsatisfiable: first-pos at or past the end, or a zero suffix', () => {
    assert.equal(parseRange('bytes=10-', 10), 'unsatisfiable')
    assert.equal(parseRange('bytes=10-20', 10), 'unsatisfiable')
    assert.equal(parseRange('bytes=-0', 10), 'unsatisfiable')
    assert.equal(parseRange('bytes=0-', 0), 'unsatisfiable')
  })

  test('ignored: other units, malformed specs, several ranges, a suffix of an empty file', () => {
    for (const h of [
      '',
      'bytes',
      'bytes=',
      'bytes=-',
      'bytes=1-2-3',
      'bytes=3-1',
      'bytes=0x1-2',
      'bytes=1-2,4-5',
      'pages=1-2',
      'bytes=+1-2',
    ]) {
      assert.equal(parseRange(h, 10), 'ignore', h)
    }
    assert.equal(parseRange('bytes=-5', 0), 'ignore')
  })

  test('misuse throws TypeError', () => {
    assert.throws(() => parseRange(undefined as unknown as string, 10), TypeError)
    assert.throws(() => parseRange('bytes=0-1', -1), TypeError)
    assert.throws(() => parseRange('bytes=0-1', 1.5), TypeError)
  })
})
