/**
 * A Python WSGI application in a daemon group, end to end: a real gateway on 127.0.0.1, real
 * HTTP clients, gatehouse's Python worker under Debian's /usr/bin/python3, the test app in
 * fixtures/wsgi/app.py. What the app saw is what it answers (its environ as JSON, its body back).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import bcrypt from 'bcryptjs'
import { startGateway, tempDir, writeFile, type TestGateway } from '../helpers/gateway.js'
import { PYTHON, requirePython, skipWithoutPython } from '../helpers/python.js'

const FIXTURE_APP = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'wsgi', 'app.py')
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`

interface Res {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
  text: string
}

let gw: TestGateway
let dir: string
let cleanup: () => void

function send(method: string, path: string, headers: Record<string, string> = {}, body?: Buffer): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: gw.port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const all = Buffer.concat(chunks)
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: all, text: all.toString('utf8') })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

const get = (path: string, headers: Record<string, string> = {}) => send('GET', path, headers)
const environ = async (path: string, headers: Record<string, string> = {}) => {
  const r = await get(path, headers)
  assert.equal(r.status, 200, r.text)
  return JSON.parse(r.text) as Record<string, unknown>
}

async function eventually<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const v = await check().catch(() => undefined)
    if (v !== undefined) return v
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`gave up waiting for: ${what}`)
}

describe('a WSGI application in a Python group', { skip: skipWithoutPython() }, () => {
  before(async () => {
    requirePython()
    const t = tempDir('gh-wsgi-')
    dir = t.dir
    cleanup = t.cleanup
    copyFileSync(FIXTURE_APP, join(dir, 'app.py'))
    writeFile(dir, 'users.htpasswd', `alice:${bcrypt.hashSync('wonderland', 4)}\n`)
    mkdirSync(join(dir, 'files'))
    writeFile(join(dir, 'files'), 'served.txt', '0123456789abcdef')
    writeFile(dir, 'outside.txt', 'outside the roots')
    const site = {
      wsgi: 'app.py',
      python: PYTHON,
      threads: 4,
      env: { GATEHOUSE_TEST_VAR: 'from the group env' },
      fileRoots: ['files'],
    }
    gw = await startGateway(
      {
        providers: { office: { type: 'htpasswd', file: './users.htpasswd' } },
        groups: { site, recycled: { ...site, maxRequests: 2 } },
        routes: [
          { path: '/app', group: 'site' },
          { path: '/private', group: 'site', auth: { scheme: 'basic', realm: 'Office', provider: 'office' } },
          { path: '/recycled', group: 'recycled' },
          { path: '/', group: 'site' },
        ],
      },
      dir,
    )
  })

  after(async () => {
    await gw?.close()
    cleanup?.()
  })

  test('the environ carries the request as PEP 3333 names it', async () => {
    const e = await environ('/app/environ?x=1&y=%20z', { 'x-test': 'hello' })
    assert.deepEqual(
      {
        method: e.REQUEST_METHOD,
        script: e.SCRIPT_NAME,
        path: e.PATH_INFO,
        query: e.QUERY_STRING,
        uri: e.REQUEST_URI,
        name: e.SERVER_NAME,
        port: e.SERVER_PORT,
        protocol: e.SERVER_PROTOCOL,
        remote: e.REMOTE_ADDR,
        scheme: e['wsgi.url_scheme'],
        host: e.HTTP_HOST,
        xTest: e.HTTP_X_TEST,
        user: e.REMOTE_USER,
        authType: e.AUTH_TYPE,
        version: e['wsgi.version'],
        multithread: e['wsgi.multithread'],
        multiprocess: e['wsgi.multiprocess'],
        runOnce: e['wsgi.run_once'],
        envVar: e.env_var,
        errors: e.errors_is_stream,
      },
      {
        method: 'GET',
        script: '/app',
        path: '/environ',
        query: 'x=1&y=%20z',
        uri: '/app/environ?x=1&y=%20z',
        name: '127.0.0.1',
        port: String(gw.port),
        protocol: 'HTTP/1.1',
        remote: '127.0.0.1',
        scheme: 'http',
        host: `127.0.0.1:${gw.port}`,
        xTest: 'hello',
        user: null,
        authType: null,
        version: [1, 0],
        multithread: true,
        multiprocess: false,
        runOnce: false,
        envVar: 'from the group env',
        errors: true,
      },
    )
  })

  test('PATH_INFO is the percent-decoded path after the route prefix, its octets as latin-1', async () => {
    const euro = await environ('/app/path/a%20b%E2%82%AC')
    assert.equal(euro.SCRIPT_NAME, '/app')
    assert.deepEqual(euro.PATH_INFO_BYTES, [...Buffer.from('/path/a b€', 'utf8')])
    // An encoded prefix names another route before decoding than after: the path rule refuses it.
    const encodedPrefix = await get('/%61pp/path/x')
    assert.equal(encodedPrefix.status, 400)
    // The prefix is matched on a segment boundary.
    const root = await environ('/application/path/x')
    assert.deepEqual([root.SCRIPT_NAME, root.PATH_INFO_BYTES], ['', [...Buffer.from('/application/path/x')]])
  })

  test('after Basic authentication the app sees REMOTE_USER and AUTH_TYPE as Apache sets them; a forged identity never reaches it', async () => {
    const e = await environ('/private/environ', {
      authorization: basic('alice', 'wonderland'),
      'x-remote-user': 'mallory',
    })
    assert.deepEqual(
      [e.REMOTE_USER, e.AUTH_TYPE, e.HTTP_X_REMOTE_USER, e.HTTP_AUTHORIZATION],
      ['alice', 'Basic', 'alice', null],
    )
    const anonymous = await environ('/app/environ', { 'x-remote-user': 'mallory', x_remote_user: 'mallory' })
    assert.deepEqual([anonymous.REMOTE_USER, anonymous.AUTH_TYPE, anonymous.HTTP_X_REMOTE_USER], [null, null, null])
  })

  test('a refused login gets 401 from the front and the app never runs', async () => {
    const marker = join(dir, 'refused.marker')
    const wrong = await get(`/private/closing?${marker}`, { authorization: basic('alice', 'wrong') })
    const none = await get(`/private/closing?${marker}`)
    assert.deepEqual([wrong.status, none.status], [401, 401])
    assert.equal(wrong.headers['www-authenticate'], 'Basic realm="Office", charset="UTF-8"')
    assert.equal(existsSync(marker), false, 'the application was not called')
  })

  test('a body of several MB streams both ways: the echo starts before the upload ends', async () => {
    const first = randomBytes(1024 * 1024)
    const rest = randomBytes(4 * 1024 * 1024)
    const echoed = await new Promise<Buffer>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: gw.port,
          method: 'POST',
          path: '/app/echo',
          agent: false,
          headers: { 'content-type': 'application/octet-stream' },
        },
        (res) => {
          assert.equal(res.statusCode, 200)
          const chunks: Buffer[] = []
          let restSent = false
          res.on('data', (c: Buffer) => {
            chunks.push(c)
            // Only once bytes came back is the rest of the body sent: a server that read the whole
            // body before answering would wait here forever (the test's timeout fails it).
            if (!restSent) {
              restSent = true
              req.end(rest)
            }
          })
          res.on('end', () => resolve(Buffer.concat(chunks)))
          res.on('error', reject)
        },
      )
      req.on('error', reject)
      req.write(first)
    })
    assert.equal(echoed.length, first.length + rest.length)
    assert.ok(echoed.equals(Buffer.concat([first, rest])), 'the same bytes came back')
  })

  test('wsgi.input iterates lines of a body with a Content-Length', async () => {
    const body = Buffer.from('line one\nline two\n' + 'x'.repeat(300_000) + '\nlast')
    const r = await send(
      'POST',
      '/app/digest',
      { 'content-type': 'text/plain', 'content-length': String(body.length) },
      body,
    )
    const { createHash } = await import('node:crypto')
    assert.deepEqual(JSON.parse(r.text), {
      bytes: body.length,
      sha256: createHash('sha256').update(body).digest('hex'),
    })
  })

  test('a generator response, write() and repeated headers reach the client as the app made them', async () => {
    const gen = await get('/app/generator')
    assert.deepEqual(
      [gen.status, gen.text, gen.headers['x-kind']],
      [200, 'chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n', 'generator'],
    )
    const write = await get('/app/write')
    assert.deepEqual([write.status, write.text], [201, 'written by write() then returned'])
    const cookies = await get('/app/cookies')
    assert.deepEqual(cookies.headers['set-cookie'], ['a=1', 'b=2'])
  })

  test('wsgi.file_wrapper of a file under fileRoots is sent by the front from disk (Range, ETag); elsewhere it is iterated', async () => {
    const inside = join(dir, 'files', 'served.txt')
    const ranged = await get(`/app/file?${inside}`, { range: 'bytes=2-5' })
    // The app knows nothing of Range: a 206 is the front's file response.
    assert.deepEqual([ranged.status, ranged.text, ranged.headers['content-range']], [206, '2345', 'bytes 2-5/16'])
    assert.equal(ranged.headers['x-from'], 'app')
    assert.equal(ranged.headers['x-gatehouse-file'], undefined)
    assert.match(String(ranged.headers.etag), /^W\/"/)
    const seeked = await get(`/app/file?${inside}`, { 'x-seek': '10' })
    assert.deepEqual([seeked.status, seeked.text], [200, 'abcdef'])
    const outside = await get(`/app/file?${join(dir, 'outside.txt')}`, { range: 'bytes=2-5' })
    assert.deepEqual(
      [outside.status, outside.text, outside.headers['content-range'], outside.headers.etag],
      [200, 'outside the roots', undefined, undefined],
    )
  })

  test('an exception answers exactly 500 with no traceback; the traceback is in the log', async () => {
    const r = await get('/app/boom')
    assert.equal(r.status, 500)
    assert.equal(r.text, 'Internal Server Error\n')
    assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8')
    const line = gw.logs.find((l) => l.includes('application failed on GET'))
    assert.ok(line, 'the failure is logged')
    const rec = JSON.parse(line) as { level: number; group: string; traceback: string }
    assert.equal(rec.level, 50)
    assert.equal(rec.group, 'site')
    assert.match(
      rec.traceback,
      /Traceback \(most recent call last\)[\s\S]*ValueError: a secret detail that must not reach the client/,
    )
  })

  test('start_response with exc_info replaces the unsent head; a bad status is a 500', async () => {
    const r = await get('/app/exc-info')
    assert.deepEqual([r.status, r.text], [503, 'recovered with exc_info'])
    const bad = await get('/app/bad-status')
    assert.deepEqual([bad.status, bad.text], [500, 'Internal Server Error\n'])
  })

  test('close() of the result is called after a complete response and after a failure mid-body', async () => {
    const done = join(dir, 'done.marker')
    const r = await get(`/app/closing?${done}`)
    assert.deepEqual([r.status, r.text], [200, 'ab'])
    await eventually('close() ran', async () => (existsSync(done) ? true : undefined))
    assert.equal(readFileSync(done, 'utf8'), 'closed\n')
    const failed = join(dir, 'failed.marker')
    const cut = await get(`/app/closing-fails?${failed}`).then(
      (res) => res.text,
      () => 'connection cut',
    )
    assert.notEqual(cut, 'abc', 'the failed response is not passed off as complete')
    await eventually('close() ran after the failure', async () => (existsSync(failed) ? true : undefined))
    assert.equal(readFileSync(failed, 'utf8'), 'closed\n')
  })

  test('touching the WSGI file reloads the group onto the changed code', async () => {
    assert.equal((await get('/app/version')).text, 'one')
    const file = join(dir, 'app.py')
    writeFileSync(file, readFileSync(file, 'utf8').replace("VERSION = 'one'", "VERSION = 'two'"))
    const future = new Date(Date.now() + 5_000)
    utimesSync(file, future, future)
    await eventually('the new code answers', async () =>
      (await get('/app/version')).text === 'two' ? true : undefined,
    )
    assert.ok(gw.gw.supervisor!.status().find((g) => g.name === 'site')!.reloads >= 1)
  })

  test('a WSGI file that fails to import leaves the old processes serving; the traceback is logged', async () => {
    const file = join(dir, 'app.py')
    const good = readFileSync(file, 'utf8')
    const pidBefore = (await get('/app/pid')).text
    writeFileSync(file, good + '\nraise ImportError("a broken deploy")\n')
    const future = new Date(Date.now() + 10_000)
    utimesSync(file, future, future)
    // The request that notices the touch waits for the failed reload, then is served by the old process.
    const during = await get('/app/pid')
    assert.deepEqual([during.status, during.text], [200, pidBefore])
    await eventually('the failed start is logged', async () =>
      gw.logs.some((l) => l.includes('ImportError: a broken deploy')) ? true : undefined,
    )
    const line = gw.logs.find((l) => l.includes('worker failed to start'))
    assert.ok(line)
    assert.match((JSON.parse(line) as { traceback: string }).traceback, /Traceback[\s\S]*ImportError: a broken deploy/)
    writeFileSync(file, good)
    const later = new Date(Date.now() + 15_000)
    utimesSync(file, later, later)
    await eventually('the fixed file is served by a new process', async () => {
      const r = await get('/app/pid')
      return r.status === 200 && r.text !== pidBefore ? true : undefined
    })
  })

  test('a process that dies is replaced and the group serves again', async () => {
    const before = Number((await get('/app/pid')).text)
    const crash = await get('/app/crash')
    assert.equal(crash.status, 502)
    const after = await eventually('a new process answers', async () => {
      const r = await get('/app/pid')
      return r.status === 200 && Number(r.text) !== before ? Number(r.text) : undefined
    })
    assert.notEqual(after, before)
  })

  test('maxRequests recycles a Python process after that many requests', async () => {
    const first = (await get('/recycled/pid')).text
    const second = (await get('/recycled/pid')).text
    assert.equal(second, first)
    const third = await eventually('a fresh process answers', async () => {
      const r = await get('/recycled/pid')
      return r.status === 200 ? r.text : undefined
    })
    assert.notEqual(third, first)
  })
})
