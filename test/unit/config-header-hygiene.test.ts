/**
 * The configuration of header hygiene: identityHeaders.strip and limits.maxHeaderFields are
 * validated by key path, have their documented defaults, and docs/security.md names every
 * header the front strips by default.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { parseConfig } from '../../src/config/parse.js'
import { STRIPPED_REQUEST_HEADERS, strippedHeaderNames } from '../../src/proxy/forward-headers.js'

const parse = (extra: Record<string, unknown>) =>
  parseConfig({ routes: [{ path: '/', upstream: 'http://127.0.0.1:9' }], ...extra }, { baseDir: '/tmp' })

describe('limits.maxHeaderFields', () => {
  test("defaults to 100, as Apache's LimitRequestFields", () => {
    assert.equal(parse({}).limits.maxHeaderFields, 100)
    assert.equal(parse({ limits: { maxHeaderFields: 1000 } }).limits.maxHeaderFields, 1000)
  })

  test('refuses 0, more than 1000 and non-integers, naming the key', () => {
    for (const bad of [0, 1001, 2.5, '100']) {
      assert.throws(
        () => parse({ limits: { maxHeaderFields: bad } }),
        (err: Error & { code?: string }) =>
          err.code === 'GH_ERR_CONFIG_INVALID' && err.message.includes('limits.maxHeaderFields'),
      )
    }
  })
})

describe('identityHeaders.strip', () => {
  test('defaults to an empty list and keeps the names given', () => {
    assert.deepEqual(parse({}).identityHeaders.strip, [])
    assert.deepEqual(parse({ identityHeaders: { strip: ['X-Tenant-Id'] } }).identityHeaders.strip, ['X-Tenant-Id'])
  })

  test('refuses a name that is not a header name, naming the key', () => {
    assert.throws(
      () => parse({ identityHeaders: { strip: ['X Tenant'] } }),
      (err: Error & { code?: string }) =>
        err.code === 'GH_ERR_CONFIG_INVALID' && err.message.includes('identityHeaders.strip[0]'),
    )
    assert.throws(() => parse({ identityHeaders: { strip: 'X-Tenant-Id' } }), /identityHeaders\.strip/)
  })
})

describe('identityHeaders.strip refuses headers the request cannot do without', () => {
  test('Host, Content-Length, Transfer-Encoding and the other framing headers are refused, naming the entry', () => {
    for (const [i, name] of [
      'Host',
      'content-length',
      'Transfer-Encoding',
      'Content-Type',
      'Connection',
      'TE',
      'Upgrade',
      'Expect',
    ].entries()) {
      const strip = ['X-Tenant-Id', name]
      assert.throws(
        () => parse({ identityHeaders: { strip } }),
        (err: Error & { code?: string }) =>
          err.code === 'GH_ERR_CONFIG_INVALID' &&
          err.message.includes(`identityHeaders.strip[1]: ${name} frames or routes the message`),
        `${i}: ${name}`,
      )
    }
  })

  test('Authorization is refused with a pointer to auth.passAuthorization', () => {
    assert.throws(
      () => parse({ identityHeaders: { strip: ['Authorization'] } }),
      /identityHeaders\.strip\[0\]: use a route's auth\.passAuthorization: false/,
    )
  })
})

describe('the built-in list of stripped request headers', () => {
  test('is documented in docs/security.md, name by name', () => {
    const doc = readFileSync(new URL('../../docs/security.md', import.meta.url), 'utf8')
    assert.deepEqual(
      STRIPPED_REQUEST_HEADERS.filter((name) => !doc.includes(`\`${name}\``)),
      [],
    )
  })

  test('is matched case-insensitively with "_" read as "-", and extended by the names given', () => {
    const set = strippedHeaderNames(['X-Tenant_Id'])
    for (const name of ['remote-user', 'x-original-url', 'x-webauth-user', 'x-tenant-id'])
      assert.equal(set.has(name), true, name)
    assert.equal(set.has('x-keep'), false)
  })
})
