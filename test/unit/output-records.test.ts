import { test } from 'node:test'
import assert from 'node:assert/strict'
import { OutputRecords } from '../../src/daemon/output-records.js'

function feed(chunks: string[], maxBytes?: number): string[] {
  const records: string[] = []
  // A quiet window longer than the test: only the content decides where records end.
  const out = new OutputRecords((r) => records.push(r), 60_000, maxBytes)
  for (const c of chunks) out.push(Buffer.from(c))
  out.flush()
  return records
}

test('a Python traceback written a line per write is one record, the exception line included', () => {
  const tb = [
    'Traceback (most recent call last):\n',
    '  File "/srv/app.py", line 9, in application\n',
    '    fail_deep()\n',
    'ValueError: the python failure\n',
  ]
  assert.deepEqual(feed([...tb, 'next request\n']), [tb.join('').trimEnd(), 'next request'])
})

test('a Node stack trace and an uncaught exception report split over reads are one record each', () => {
  const trace = 'Error: boom\n    at a (/srv/app.js:1:1)\n'
  const uncaught = [
    '/srv/app.js:3\n',
    "    throw new Error('x')\n    ^\n\n",
    'Error: x\n',
    '    at b (/srv/app.js:3:5)\n\n',
    'Node.js v20.20.2\n',
  ]
  assert.deepEqual(feed([trace, ...uncaught]), [trace.trimEnd(), uncaught.join('').trimEnd()])
})

test('unrelated lines of separate reads stay separate records; a line split across reads is whole; CRLF and blank edges dropped', () => {
  assert.deepEqual(feed(['listening\r\n', 'request one\n', 'half a ', 'line\n', '\n\n']), [
    'listening',
    'request one',
    'half a line',
  ])
})

test('a process writing without pause gets a record per size limit, cut at a line end', () => {
  const line = 'x'.repeat(30) + '\n'
  const records = feed([line.repeat(10)], 100)
  assert.ok(records.every((r) => r.length <= 100))
  assert.equal(records.join('\n'), line.repeat(10).trimEnd())
})

test('a UTF-8 character split between reads is decoded whole', () => {
  const bytes = Buffer.from('naïve café\n')
  const records: string[] = []
  const out = new OutputRecords((r) => records.push(r), 60_000)
  out.push(bytes.subarray(0, 3))
  out.push(bytes.subarray(3))
  out.flush()
  assert.deepEqual(records, ['naïve café'])
})
