import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { connectionOptions, stripHopByHop } from '../../src/proxy/hop-by-hop.js'

describe('stripHopByHop(headers)', () => {
  test('removes every field RFC 9110 §7.6.1 names as connection-specific', () => {
    const out = stripHopByHop({
      connection: 'keep-alive',
      'keep-alive': 'timeout=5',
      'proxy-connection': 'keep-alive',
      'transfer-encoding': 'chunked',
      te: 'trailers',
      trailer: 'x-checksum',
      upgrade: 'websocket',
      'proxy-authorization': 'Basic Zm9vOmJhcg==',
      'content-type': 'text/plain',
    })
    assert.deepEqual(out, { 'content-type': 'text/plain' })
  })

  test('removes every field named in Connection, case-insensitively, across repeated values', () => {
    const out = stripHopByHop({
      Connection: ['close, X-Foo', ' x-bar ,,'],
      'x-foo': '1',
      'X-Bar': '2',
      'x-baz': '3',
    })
    assert.deepEqual(out, { 'x-baz': '3' })
  })

  test('keeps Proxy-Authorization and Proxy-Authenticate only when the route passes them', () => {
    const headers = { 'proxy-authorization': 'Basic eDp5', 'proxy-authenticate': 'Basic realm="p"', accept: '*/*' }
    assert.deepEqual(stripHopByHop(headers), { accept: '*/*' })
    assert.deepEqual(stripHopByHop(headers, { passProxyAuth: true }), headers)
  })

  test('keeps end-to-end fields and arrays untouched, turns numbers into strings, drops undefined', () => {
    const out = stripHopByHop({ 'set-cookie': ['a=1', 'b=2'], 'content-length': 12, 'x-none': undefined, host: 'h' })
    assert.deepEqual(out, { 'set-cookie': ['a=1', 'b=2'], 'content-length': '12', host: 'h' })
  })

  test('does not modify its input', () => {
    const input = { connection: 'x-a', 'x-a': '1', 'x-b': '2' }
    const copy = structuredClone(input)
    stripHopByHop(input)
    assert.deepEqual(input, copy)
  })

  test('ignores Connection list members that are not tokens', () => {
    assert.deepEqual([...connectionOptions('close, "x-quoted", x ok, X-Good')], ['close', 'x-good'])
  })
})
