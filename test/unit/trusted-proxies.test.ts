import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { TrustedProxies, trustedProxyProblem } from '../../src/proxy/trusted-proxies.js'

describe('trustedProxies', () => {
  test('addresses and CIDR ranges, IPv4 and IPv6; an IPv4 entry matches its IPv4-mapped form', () => {
    const t = new TrustedProxies(['127.0.0.1', '10.0.0.0/8', 'fd00::/8', '::1'])
    for (const yes of ['127.0.0.1', '::ffff:127.0.0.1', '10.1.2.3', '::ffff:10.255.0.1', 'fd12::7', '::1'])
      assert.equal(t.has(yes), true, yes)
    for (const no of ['127.0.0.2', '11.0.0.1', 'fe80::1', '::2', '', 'not-an-ip', '127.0.0.1/8'])
      assert.equal(t.has(no), false, no)
  })

  test('no entries trusts nobody', () => {
    assert.equal(new TrustedProxies([]).has('127.0.0.1'), false)
  })

  test('a bad entry is named', () => {
    assert.match(trustedProxyProblem('localhost') ?? '', /expected an IP address or a CIDR range .* got "localhost"/)
    assert.match(trustedProxyProblem('10.0.0.0/33') ?? '', /prefix length of "10.0.0.0\/33" must be 0 to 32/)
    assert.match(trustedProxyProblem('fd00::/200') ?? '', /must be 0 to 128/)
    assert.equal(trustedProxyProblem('192.168.0.0/16'), undefined)
    assert.throws(() => new TrustedProxies(['10.0.0.0/x']), /trustedProxies: the prefix length/)
  })

  test("answers stay right when asked again and past the memo's size", () => {
    const t = new TrustedProxies(['10.0.0.0/16'])
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 5000; i++) {
        const a = `10.${i % 2}.${(i >> 8) & 255}.${i & 255}`
        assert.equal(t.has(a), i % 2 === 0, a)
      }
    }
  })
})
