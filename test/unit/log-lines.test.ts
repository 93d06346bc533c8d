/**
 * Log lines to standard output leave in batches: the lines of a few milliseconds go out
 * together, none waits longer than that, a full batch is written at once, and lines still
 * pending when the process exits are written.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BATCH_MS, BatchedLines } from '../../src/log.js'

const LOG = fileURLToPath(new URL('../../src/log.ts', import.meta.url))

test('lines written together leave in one batch once the batch time is up, not before', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-log-lines-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'out.log')
  const fd = openSync(file, 'w')
  t.after(() => closeSync(fd))
  const lines = new BatchedLines(fd)
  lines.write('{"n":1}\n')
  lines.write('{"n":2}\n')
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(readFileSync(file, 'utf8'), '', 'nothing written yet')
  await new Promise((resolve) => setTimeout(resolve, BATCH_MS * 3))
  assert.equal(readFileSync(file, 'utf8'), '{"n":1}\n{"n":2}\n')
})

test('more than a batch is written as it comes; nothing is lost or reordered', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-log-lines-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'out.log')
  const fd = openSync(file, 'w')
  t.after(() => closeSync(fd))
  const lines = new BatchedLines(fd)
  const want: string[] = []
  for (let i = 0; i < 2000; i++) {
    const line = `{"n":${i},"pad":"${'x'.repeat(40)}"}\n`
    want.push(line)
    lines.write(line)
  }
  assert.ok(readFileSync(file, 'utf8').length > 0, 'a full batch is written at once')
  await new Promise((resolve) => setTimeout(resolve, BATCH_MS * 3))
  assert.equal(readFileSync(file, 'utf8'), want.join(''))
})

test('lines logged just before process.exit() reach standard output', () => {
  const script = `
    const { createLogger } = await import(${JSON.stringify(LOG)})
    const log = createLogger('info')
    log.info('first')
    log.warn({ n: 2 }, 'second')
    process.exit(0)
  `
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 30_000,
  })
  assert.equal(child.status, 0, child.stderr)
  const records = child.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { msg: string })
  assert.deepEqual(
    records.map((r) => r.msg),
    ['first', 'second'],
  )
})
