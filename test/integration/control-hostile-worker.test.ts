/**
 * A worker that breaks the control channel (fd 3): whatever it writes there, the front ends that
 * process only, logs why, replaces it, and keeps serving. The app (fixtures/control/hostile-app.ts)
 * runs inside the real Node worker and writes to fd 3 itself, as compromised app code could.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { alive, eventually, get, groupConfig, pids, startSupervisor } from '../fixtures/apps/harness.js'

const HOSTILE_APP = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'control', 'hostile-app.ts')

function capture(): { log: pino.Logger; records: Array<Record<string, unknown>> } {
  const records: Array<Record<string, unknown>> = []
  const sink = new Writable({
    write(chunk, _enc, cb) {
      records.push(JSON.parse(String(chunk)) as Record<string, unknown>)
      cb()
    },
  })
  return { log: pino({ level: 'info' }, sink), records }
}

for (const path of ['/not-json', '/unknown-type', '/bad-ready', '/bad-methods', '/array', '/too-long']) {
  test(`a worker writing ${path.slice(1)} on its control channel is replaced and the group keeps serving`, async (t) => {
    const { log, records } = capture()
    const sup = await startSupervisor(t, [groupConfig('hostile', { app: HOSTILE_APP })], { log })
    const group = sup.group('hostile')
    const before = Number((await get(group, '/')).text)
    // The answer may or may not arrive before the front ends the process: either is fine.
    await get(group, path).catch(() => undefined)
    await eventually('the hostile process is gone', () => !alive(before))
    const after = await eventually('a replacement serves', async () => {
      const r = await get(group, '/').catch(() => undefined)
      return r?.status === 200 && Number(r.text) !== before ? Number(r.text) : undefined
    })
    assert.notEqual(after, before)
    assert.deepEqual(pids(sup, 'hostile'), [after])
    const refusal = records.find((r) => r.code === 'GH_ERR_IPC_PROTOCOL')
    assert.ok(refusal, 'the refusal is logged with its code')
    assert.equal(refusal.group, 'hostile')
    assert.equal(refusal.pid, before)
  })
}

test('a valid log record on the control channel is logged under the real group and pid, and the process stays', async (t) => {
  const { log, records } = capture()
  const sup = await startSupervisor(t, [groupConfig('hostile', { app: HOSTILE_APP })], { log })
  const group = sup.group('hostile')
  const pid = Number((await get(group, '/log')).text)
  const rec = await eventually('the record is logged', () =>
    records.find((r) => r.msg === 'a record through the control channel'),
  )
  assert.equal(rec.group, 'hostile')
  assert.equal(rec.pid, pid)
  assert.equal(rec.level, 40)
  assert.equal(Number((await get(group, '/')).text), pid)
  assert.deepEqual(
    records.filter((r) => r.code === 'GH_ERR_IPC_PROTOCOL'),
    [],
  )
})
