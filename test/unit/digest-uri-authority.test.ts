/**
 * digestUriMatches with the request's authority (RFC 7616 §3.4.6): an absolute-form `uri` must
 * name this host and port, not only the same path and query.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { digestUriMatches } from '../../src/auth/digest.js'

describe('digestUriMatches(uri, requestTarget, host)', () => {
  test('accepts an absolute-form uri naming the Host the request was sent to', () => {
    assert.equal(digestUriMatches('http://api.example.org/doe.json', '/doe.json', 'api.example.org'), true)
    assert.equal(digestUriMatches('http://127.0.0.1:8080/a?b=c', '/a?b=c', '127.0.0.1:8080'), true)
    assert.equal(digestUriMatches('http://[::1]:8080/a', '/a', '[::1]:8080'), true)
    assert.equal(digestUriMatches('http://h', '/', 'h'), true)
  })

  test("compares the host case-insensitively and reads an absent or empty port as the scheme's default", () => {
    assert.equal(digestUriMatches('http://API.Example.org/a', '/a', 'api.example.ORG'), true)
    assert.equal(digestUriMatches('http://h:80/a', '/a', 'h'), true)
    assert.equal(digestUriMatches('http://h/a', '/a', 'h:80'), true)
    assert.equal(digestUriMatches('http://h:/a', '/a', 'h'), true)
    assert.equal(digestUriMatches('https://h/a', '/a', 'h:443'), true)
    assert.equal(digestUriMatches('https://h:443/a', '/a', 'h'), true)
    assert.equal(digestUriMatches('http://[::1]/a', '/a', '[::1]:80'), true)
  })

  test('refuses an absolute-form uri naming another host or port', () => {
    assert.equal(digestUriMatches('http://evil.example/path', '/path', '127.0.0.1:8080'), false)
    assert.equal(digestUriMatches('http://evil.example/path', '/path', 'good.example'), false)
    assert.equal(digestUriMatches('http://h:8081/a', '/a', 'h:8080'), false)
    assert.equal(digestUriMatches('http://h/a', '/a', 'h:8080'), false)
    assert.equal(digestUriMatches('https://h/a', '/a', 'h:80'), false)
    assert.equal(digestUriMatches('http://h.example/a', '/a', 'h.example.'), false)
    assert.equal(digestUriMatches('http://[::2]:80/a', '/a', '[::1]:80'), false)
  })

  test('refuses userinfo, a malformed authority, and a Host that is absent, empty or malformed', () => {
    assert.equal(digestUriMatches('http://alice@h/a', '/a', 'h'), false)
    assert.equal(digestUriMatches('http://h:8o/a', '/a', 'h:8o'), false)
    assert.equal(digestUriMatches('http://h/a', '/a', ''), false)
    assert.equal(digestUriMatches('http://h/a', '/a', 'h/a'), false)
    assert.equal(digestUriMatches('http://h/a', '/a'), false)
    assert.equal(digestUriMatches('http://h/a', '/a', undefined), false)
  })

  test('an origin-form uri equal to the request-target needs no Host', () => {
    assert.equal(digestUriMatches('/a?b=c', '/a?b=c'), true)
    assert.equal(digestUriMatches('/a?b=c', '/a?b=c', 'h'), true)
  })

  test("the path and query must still be the request-target's exactly", () => {
    assert.equal(digestUriMatches('http://h/a?b=d', '/a?b=c', 'h'), false)
    assert.equal(digestUriMatches('http://h/A', '/a', 'h'), false)
  })
})
