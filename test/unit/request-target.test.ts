import { test } from 'node:test'
import assert from 'node:assert/strict'
import { checkAuthorizationHeaders } from '../../src/proxy/request-target.js'
import { readTargetPath } from '../../src/proxy/path-rule.js'

function checkRequestTarget(url: string, rawHeaders: readonly string[]): string | undefined {
  const read = readTargetPath(url)
  return read.ok ? checkAuthorizationHeaders(rawHeaders) : read.reason
}

test('plain paths and queries pass', () => {
  for (const u of ['/', '/a/b', '/a/b?x=../y', '/a/.well-known/x', '/a%20b', '/a/b.c', '/a/b;c'])
    assert.equal(checkRequestTarget(u, []), undefined, u)
})

test('dot segments, raw or encoded, are refused', () => {
  for (const u of ['/a/../b', '/a/./b', '/a/..', '/a/%2e%2e/b', '/a/%2E./b', '/..', '/a/...', '/a/..;x/b', '/a/.%20'])
    assert.match(checkRequestTarget(u, []) ?? '', /dot segments/, u)
})

test('encoded slashes, backslashes and NUL are refused', () => {
  for (const u of ['/a%2fb', '/a%5Cb', '/a\\b', '/a%00'])
    assert.match(checkRequestTarget(u, []) ?? '', /encoded slashes/, u)
})

test('repeated slashes are refused: an upstream that merges them would serve //staff as /staff', () => {
  for (const u of ['//staff', '/public//staff', '/a/b//'])
    assert.equal(checkRequestTarget(u, []), 'empty path segments (//) are not allowed', u)
  assert.equal(checkRequestTarget('/a?next=//b', []), undefined, 'the query is not the path')
})

test('two Authorization headers are refused, one is fine', () => {
  assert.equal(checkRequestTarget('/', ['Authorization', 'Basic x']), undefined)
  assert.equal(
    checkRequestTarget('/', ['authorization', 'Basic x', 'AUTHORIZATION', 'Basic y']),
    'more than one Authorization header',
  )
  assert.equal(
    checkRequestTarget('/', ['Proxy-Authorization', 'a', 'proxy-authorization', 'b']),
    'more than one Proxy-Authorization header',
  )
})

test('an absolute-form or asterisk target is refused', () => {
  assert.equal(checkRequestTarget('http://evil/', []), 'request target must be a path')
  assert.equal(checkRequestTarget('*', []), 'request target must be a path')
})
