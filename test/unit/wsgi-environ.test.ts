/**
 * The WSGI environ, unit by unit: the Python worker's build_environ and split_path run in a real
 * /usr/bin/python3 (the worker module imported, no server), and the front's gatewayInfo, which
 * supplies SCRIPT_NAME, the scheme, the port, REMOTE_USER and AUTH_TYPE.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import type { IncomingMessage } from 'node:http'
import { dirname } from 'node:path'
import { pythonWorkerPath } from '../../src/daemon/spawn-spec.js'
import { gatewayInfo } from '../../src/proxy/gateway-info.js'
import { PYTHON, requirePython, skipWithoutPython } from '../helpers/python.js'

/** Runs `code` with gatehouse_worker imported as `w` and the JSON `input` bound to `data`; returns its printed JSON. */
function python(code: string, input: unknown): unknown {
  requirePython()
  const script = `import json, sys\nsys.path.insert(0, ${JSON.stringify(dirname(pythonWorkerPath()))})\nimport gatehouse_worker as w\ndata = json.loads(sys.stdin.read())\n${code}`
  return JSON.parse(execFileSync(PYTHON, ['-B', '-c', script], { input: JSON.stringify(input), encoding: 'utf8' }))
}

const environOf = (head: Record<string, unknown>) =>
  python(
    "env = w.build_environ(data, {'wsgi.version': (1, 0)})\nprint(json.dumps({k: v for k, v in env.items() if isinstance(v, str)}))",
    { headers: {}, ...head },
  ) as Record<string, string>

describe('the Python worker builds the environ (PEP 3333)', { skip: skipWithoutPython() }, () => {
  test('SCRIPT_NAME is the route prefix and PATH_INFO the decoded rest, as latin-1 code points', () => {
    const cases: Array<[string, string, string, string, string]> = [
      // url, route prefix, SCRIPT_NAME, PATH_INFO (as octets in latin-1), QUERY_STRING
      ['/app/a%20b?x=%20', '/app', '/app', '/a b', 'x=%20'],
      ['/app', '/app', '/app', '', ''],
      ['/app/', '/app', '/app', '/', ''],
      ['/app/%E2%82%AC', '/app', '/app', Buffer.from('/€', 'utf8').toString('latin1'), ''],
      ['/app/caf%E9', '/app', '/app', '/caf\u00e9', ''],
      ['/%61pp/x', '/app', '/app', '/x', ''],
      ['/application/x', '/app', '/app', '/application/x', ''],
      ['/x?a=1?b=2', '', '', '/x', 'a=1?b=2'],
      ['/x', '/', '', '/x', ''],
    ]
    for (const [url, prefix, script, path, query] of cases) {
      const e = environOf({ method: 'GET', url, gateway: { scriptName: prefix, scheme: 'http', serverPort: 80 } })
      assert.deepEqual([e.SCRIPT_NAME, e.PATH_INFO, e.QUERY_STRING], [script, path, query], url)
    }
  })

  test('headers become HTTP_*, CONTENT_TYPE and CONTENT_LENGTH; repeated ones are joined; underscore names are dropped', () => {
    const e = environOf({
      method: 'POST',
      url: '/',
      headers: {
        host: 'example.org:8443',
        'content-type': 'text/plain',
        'content-length': '5',
        'x-multi': ['a', 'b'],
        cookie: ['c=1', 'd=2'],
        x_remote_user: 'mallory',
        accept: 'text/html',
      },
    })
    assert.equal(e.CONTENT_TYPE, 'text/plain')
    assert.equal(e.CONTENT_LENGTH, '5')
    assert.equal(e.HTTP_CONTENT_TYPE, undefined)
    assert.equal(e.HTTP_X_MULTI, 'a, b')
    assert.equal(e.HTTP_COOKIE, 'c=1; d=2')
    assert.equal(e.HTTP_X_REMOTE_USER, undefined)
    assert.equal(e.HTTP_ACCEPT, 'text/html')
    assert.equal(e.SERVER_NAME, 'example.org')
  })

  test('SERVER_NAME comes from Host (IPv6 literals kept whole), SERVER_PORT and the scheme from the front', () => {
    const v6 = environOf({
      method: 'GET',
      url: '/',
      headers: { host: '[::1]:8080' },
      gateway: { scriptName: '', scheme: 'https', serverPort: 8080 },
    })
    assert.deepEqual([v6.SERVER_NAME, v6.SERVER_PORT, v6['wsgi.url_scheme']], ['[::1]', '8080', 'https'])
  })

  test("REMOTE_USER and AUTH_TYPE are set only from the front's authentication", () => {
    const authed = environOf({
      method: 'GET',
      url: '/',
      gateway: { scriptName: '', scheme: 'http', serverPort: 80, remoteUser: 'zoë', authType: 'Digest' },
    })
    assert.deepEqual([authed.REMOTE_USER, authed.AUTH_TYPE], ['zoë', 'Digest'])
    const anonymous = environOf({
      method: 'GET',
      url: '/',
      headers: { 'remote-user': 'mallory', 'auth-type': 'Basic' },
    })
    assert.deepEqual([anonymous.REMOTE_USER, anonymous.AUTH_TYPE], [undefined, undefined])
  })

  test('start_response refuses hop-by-hop headers, CR/LF in values and malformed statuses', () => {
    const outcome = python(
      `
out = []
for status, headers in data:
    try:
        out.append(list(w.check_headers(status, [tuple(h) for h in headers])))
    except (ValueError, TypeError) as err:
        out.append(type(err).__name__)
print(json.dumps(out))`,
      [
        [
          '200 OK',
          [
            ['Content-Type', 'text/plain'],
            ['Set-Cookie', 'a'],
            ['set-cookie', 'b'],
          ],
        ],
        ['200 OK', [['Connection', 'close']]],
        ['200 OK', [['X-A', 'v\r\nInjected: 1']]],
        ['OK', []],
        ['200 OK\r\nX: y', []],
        ['200 OK', [['Bad Name', 'v']]],
      ],
    )
    assert.deepEqual(outcome, [
      [200, { 'content-type': 'text/plain', 'set-cookie': ['a', 'b'] }],
      'ValueError',
      'ValueError',
      'ValueError',
      'ValueError',
      'ValueError',
    ])
  })
})

describe('the front supplies the gateway facts', () => {
  const raw = (headers: Record<string, string>, localPort = 8080) =>
    ({ headers, socket: { localPort } }) as unknown as IncomingMessage

  test('SCRIPT_NAME is empty for the root route and the prefix otherwise', () => {
    assert.equal(gatewayInfo('/', raw({}), {}, undefined).scriptName, '')
    assert.equal(gatewayInfo('/trac', raw({}), {}, undefined).scriptName, '/trac')
  })

  test("the scheme is the forwarded proto the front settled on (its own, or a trusted proxy's first)", () => {
    assert.equal(gatewayInfo('/', raw({}), { 'x-forwarded-proto': 'http' }, undefined).scheme, 'http')
    assert.equal(gatewayInfo('/', raw({}), { 'x-forwarded-proto': 'HTTPS, http' }, undefined).scheme, 'https')
    assert.equal(gatewayInfo('/', raw({}), { 'x-forwarded-proto': 'gopher' }, undefined).scheme, 'http')
  })

  test('REMOTE_USER and AUTH_TYPE only with an identity; AUTH_TYPE from the scheme the client used', () => {
    assert.deepEqual(gatewayInfo('/', raw({ authorization: 'Basic YTpi' }), {}, undefined), {
      scriptName: '',
      scheme: 'http',
      serverPort: 8080,
    })
    assert.deepEqual(gatewayInfo('/', raw({ authorization: 'Basic YTpi' }), {}, { user: 'a' }), {
      scriptName: '',
      scheme: 'http',
      serverPort: 8080,
      remoteUser: 'a',
      authType: 'Basic',
    })
    assert.equal(gatewayInfo('/', raw({ authorization: 'digest username="a"' }), {}, { user: 'a' }).authType, 'Digest')
    assert.equal(gatewayInfo('/', raw({ authorization: 'Bearer x' }), {}, { user: 'a' }).authType, undefined)
  })
})
