/**
 * The fast path's access line (accessLineWriter) is the line pino writes for
 * access.info(fields, 'access'): the same keys in the same order and the same values, whatever
 * the path or user name holds, and none when the level leaves info out.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { accessLineWriter, accessLogger, createLogger, type AccessFields } from '../../src/log.js'

function capture(level: string): { lines: string[]; log: ReturnType<typeof createLogger> } {
  const lines: string[] = []
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk))
      cb()
    },
  })
  return { lines, log: createLogger(level, sink) }
}

const CASES: AccessFields[] = [
  { reqId: 'req-1', method: 'GET', url: '/up/page', status: 200, user: 'alice', remote: '127.0.0.1', ms: 0.4 },
  {
    reqId: 'req-zz',
    method: 'PROPFIND',
    url: '/a"b\\c/é',
    status: 502,
    user: 'ünïcode "quoted"\n',
    remote: '::ffff:10.0.0.1',
    ms: 12,
  },
  { reqId: 'req-2', method: 'HEAD', url: '/', status: 204, user: '-', remote: '', ms: 0 },
]

test('the access line has the keys, order and values pino writes for the same fields', () => {
  for (const fields of CASES) {
    const { lines, log } = capture('info')
    const access = accessLogger(log)
    access.info({ ...fields }, 'access')
    accessLineWriter(access)(fields)
    assert.equal(lines.length, 2)
    const [viaPino, direct] = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    assert.ok(lines[1]!.endsWith('}\n'))
    assert.deepEqual(Object.keys(direct!), Object.keys(viaPino!))
    assert.deepEqual({ ...direct, time: 0 }, { ...viaPino, time: 0 })
    assert.equal(typeof direct!.time, 'number')
  }
})

test('no access line when the log level leaves info out', () => {
  const { lines, log } = capture('warn')
  accessLineWriter(accessLogger(log))(CASES[0]!)
  assert.deepEqual(lines, [])
})
