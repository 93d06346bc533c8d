import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  readDrainBody,
  readGroupBody,
  readReloadBody,
  readServedBody,
  readStuckBody,
  readTablesBody,
} from '../../src/cluster/group-messages.js'

test('readers return the typed body for well-formed messages', () => {
  assert.deepEqual(readGroupBody({ group: 'app' }), { group: 'app' })
  assert.deepEqual(readDrainBody({ group: 'app', seq: 3, timeoutMs: 500 }), { group: 'app', seq: 3, timeoutMs: 500 })
  assert.deepEqual(readStuckBody({ group: 'app', seq: 3, phase: 'body' }), { group: 'app', seq: 3, phase: 'body' })
  assert.deepEqual(readReloadBody({ name: 'app', reason: 'touched /x' }), { name: 'app', reason: 'touched /x' })
  assert.deepEqual(readServedBody({ counts: [{ group: 'app', seq: 1, count: 5, busy: true, extra: 1 }] }), {
    counts: [{ group: 'app', seq: 1, count: 5, busy: true }],
  })
  const tables = {
    version: 2,
    groups: [{ name: 'app', secret: 'ab', config: {}, processes: [{ seq: 1, socketPath: '/s', state: 'ready' }] }],
  }
  assert.equal(readTablesBody(tables), tables)
})

test('readers return undefined for malformed messages, whatever their shape', () => {
  for (const bad of [undefined, null, 7, 'app', [], [{ group: 'app' }]]) {
    assert.equal(readGroupBody(bad), undefined)
    assert.equal(readServedBody(bad), undefined)
    assert.equal(readTablesBody(bad), undefined)
  }
  assert.equal(readDrainBody({ group: 'app', seq: 3 }), undefined)
  assert.equal(readDrainBody({ group: 'app', seq: -1, timeoutMs: 5 }), undefined)
  assert.equal(readStuckBody({ group: 'app', seq: 3, phase: 'later' }), undefined)
  assert.equal(readStuckBody({ group: 'app', seq: 1.5, phase: 'head' }), undefined)
  assert.equal(readReloadBody({ name: 'app' }), undefined)
  assert.equal(readServedBody({ counts: [{ group: 'app', seq: 1, count: 5 }] }), undefined)
  assert.equal(readServedBody({ counts: [{ group: 'app', seq: 1, count: '5', busy: false }] }), undefined)
  assert.equal(
    readTablesBody({ version: 1, groups: [{ name: 'app', secret: 'ab', config: {}, processes: [{}] }] }),
    undefined,
  )
  assert.equal(readTablesBody({ version: -1, groups: [] }), undefined)
})
