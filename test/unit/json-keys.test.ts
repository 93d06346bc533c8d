import { test } from 'node:test'
import assert from 'node:assert/strict'
import { logRecords, parseUniqueKeys } from '../helpers/json-keys.js'

test('the log line checker finds a key written twice, at any depth, that JSON.parse would hide', () => {
  assert.deepEqual(parseUniqueKeys('{"group":"wiki","group":"wiki","pid":1,"pid":2}').duplicates, ['group', 'pid'])
  assert.deepEqual(parseUniqueKeys('{"a":{"b":1,"b":2},"c":[{"d":1,"d":1}]}').duplicates, ['a.b', 'c.[].d'])
  assert.deepEqual(parseUniqueKeys('{"a":"x\\"y","b":[1,-2.5e3,true,null]}'), {
    value: { a: 'x"y', b: [1, -2500, true, null] },
    duplicates: [],
  })
  assert.throws(() => logRecords('{"a":1}\n{"a":1,"a":2}\n'), /log line 2 writes a twice/)
  assert.throws(() => logRecords('{"a":1}\nError: boom\n'), /log line 2 is not JSON/)
  assert.throws(() => logRecords('[1]\n'), /log line 1 is not a JSON object/)
})
