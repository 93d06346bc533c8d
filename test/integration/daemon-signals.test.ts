/**
 * Signals that reach the daemons directly (they share the front's process group: Ctrl-C in a
 * terminal, systemd's SIGTERM to the control group): the front coordinates the stop, so a daemon
 * ignores the first SIGTERM/SIGINT while connected and exits at once on a second one.
 */
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { describe, test } from 'node:test'
import { pino } from 'pino'
import { alive, eventually, get, groupConfig, pids, startSupervisor } from '../fixtures/apps/harness.js'

function capturedLog(): { log: pino.Logger; lines: string[] } {
  const lines: string[] = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString())
      done()
    },
  })
  return { log: pino({ level: 'info' }, sink), lines }
}

describe('signals sent to daemon processes', { skip: process.platform === 'win32', timeout: 60_000 }, () => {
  test('SIGTERM to the daemon while the front drains: the in-flight request completes with 200 and no process is left', async (t) => {
    const sup = await startSupervisor(t, [groupConfig('term', { processes: 2 })])
    const h = sup.group('term')
    const before = pids(sup, 'term')
    assert.equal(before.length, 2)
    const inflight = get(h, '/slow?ms=1000').then(
      (r) => `${r.status} ${r.text}`,
      (err: Error & { code?: string }) => `${err.code}: ${err.message}`,
    )
    const busy = await eventually(
      'request dispatched',
      () => sup.status()[0]?.processes.find((p) => p.inflight === 1)?.pid,
    )
    for (const pid of before) process.kill(pid, 'SIGTERM')
    const closing = sup.close()
    assert.equal(await inflight, `200 slept 1000 ${busy}`)
    await closing
    for (const pid of before) assert.equal(alive(pid), false, `pid ${pid} still alive`)
  })

  test('one SIGTERM to a daemon while the front lives is logged and ignored (it keeps serving); a second one stops it', async (t) => {
    const { log, lines } = capturedLog()
    const sup = await startSupervisor(t, [groupConfig('twice')], { log })
    const h = sup.group('twice')
    const [pid] = pids(sup, 'twice') as [number]
    // A hang-up (a closing terminal) is not a stop: the daemon keeps serving.
    process.kill(pid, 'SIGHUP')
    await eventually(
      'the ignored hang-up is logged',
      () => lines.some((l) => l.includes('"msg":"SIGHUP ignored') && l.includes(`"pid":${pid}`)),
      5_000,
    )
    process.kill(pid, 'SIGTERM')
    await eventually(
      'the ignored signal is logged',
      () => lines.some((l) => l.includes('"msg":"SIGTERM ignored') && l.includes(`"pid":${pid}`)),
      5_000,
    )
    const res = await get(h, '/pid')
    assert.equal(res.status, 200)
    assert.equal(res.text, String(pid))
    process.kill(pid, 'SIGTERM')
    await eventually(`process ${pid} gone after the second SIGTERM`, () => !alive(pid), 5_000)
    const after = await eventually('a respawned process', () => pids(sup, 'twice').find((p) => p !== pid))
    assert.equal((await get(h, '/pid')).text, String(after))
  })
})
