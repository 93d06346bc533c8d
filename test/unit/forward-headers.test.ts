import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildForwardHeaders } from '../../src/proxy/forward-headers.js'

const opts = {
  reserved: new Set(['x-remote-user', 'x-remote-groups']),
  userHeader: 'x-remote-user',
  groupsHeader: 'x-remote-groups',
  passAuthorization: false,
  trustForwarded: false,
}
const conn = { remoteAddress: '127.0.0.2', encrypted: false }

test('client copies of identity headers and their underscore look-alikes are removed', () => {
  const h = buildForwardHeaders(
    { 'x-remote-user': 'root', x_remote_user: 'root', 'x-remote_groups': 'admin', accept: '*/*' },
    opts,
    conn,
    undefined,
  )
  assert.equal(h['x-remote-user'], undefined)
  assert.equal(h.x_remote_user, undefined)
  assert.equal(h['x-remote_groups'], undefined)
  assert.equal(h.accept, '*/*')
})

test('the identity is set, with non-ASCII names percent-encoded', () => {
  const h = buildForwardHeaders({ 'x-remote-user': 'root' }, opts, conn, { user: 'café', groups: ['staff', 'a,b'] })
  assert.equal(h['x-remote-user'], 'caf%C3%A9')
  assert.equal(h['x-remote-groups'], 'staff,a%2Cb')
})

test('Authorization is dropped unless passed on', () => {
  assert.equal(buildForwardHeaders({ authorization: 'Basic x' }, opts, conn, undefined).authorization, undefined)
  assert.equal(
    buildForwardHeaders({ authorization: 'Basic x' }, { ...opts, passAuthorization: true }, conn, undefined)
      .authorization,
    'Basic x',
  )
})

test('X-Forwarded-* from an untrusted client are replaced, from a trusted proxy extended', () => {
  const incoming = {
    'x-forwarded-for': '6.6.6.6',
    'x-forwarded-proto': 'https',
    host: 'site',
    forwarded: 'for=6.6.6.6',
  }
  const untrusted = buildForwardHeaders(incoming, opts, conn, undefined)
  assert.equal(untrusted['x-forwarded-for'], '127.0.0.2')
  assert.equal(untrusted['x-forwarded-proto'], 'http')
  assert.equal(untrusted['x-forwarded-host'], 'site')
  assert.equal(untrusted.forwarded, undefined)
  const trusted = buildForwardHeaders(incoming, { ...opts, trustForwarded: true }, conn, undefined)
  assert.equal(trusted['x-forwarded-for'], '6.6.6.6, 127.0.0.2')
  assert.equal(trusted['x-forwarded-proto'], 'https')
})

test('hop-by-hop headers and those named in Connection are removed', () => {
  const h = buildForwardHeaders(
    { connection: 'keep-alive, x-secret', 'x-secret': '1', 'keep-alive': 'timeout=5', te: 'trailers', accept: 'a' },
    opts,
    conn,
    undefined,
  )
  assert.deepEqual(Object.keys(h).sort(), ['accept', 'x-forwarded-for', 'x-forwarded-proto'])
})

test('an identity value is sent as is when it is visible ASCII without % or comma, and percent-encoded otherwise', () => {
  const h = buildForwardHeaders({}, opts, conn, { user: 'bob@example.com', groups: ['dev-ops', 'x%2Cadmin', 'a b'] })
  assert.equal(h['x-remote-user'], 'bob@example.com')
  // A raw % would let a group named "x%2Cadmin" read as two groups, "x" and "admin", once decoded.
  assert.equal(h['x-remote-groups'], 'dev-ops,x%252Cadmin,a%20b')
})

test('an underscore look-alike of any header is dropped, not only of the identity headers', () => {
  const h = buildForwardHeaders(
    { content_type: 'text/evil', 'x-custom': 'kept', x_custom: 'dropped', accept_language: 'xx' },
    opts,
    conn,
    undefined,
  )
  assert.deepEqual(
    [h.content_type, h.x_custom, h.accept_language, h['x-custom']],
    [undefined, undefined, undefined, 'kept'],
  )
})
