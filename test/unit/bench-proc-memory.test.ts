/**
 * The memory bench's accounting (bench/lib/proc-memory.ts), read from real processes: a
 * process's own memory is its anonymous pages, the node binary's pages count once for two node
 * processes, and RSS summed counts them twice.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { realpathSync, readFileSync } from 'node:fs'
import { childPids, machineMemory, processMemory } from '../../bench/lib/proc-memory.js'

const anonymousOf = (pid: number): number =>
  Number(/^Anonymous:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1]) / 1024

test('two node processes: anonymous pages summed, the node binary counted once, RSS summed counts it twice', async (t) => {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await once(child, 'exit')
    }
  })
  await new Promise((r) => setTimeout(r, 300))
  const pid = child.pid as number
  assert.ok(childPids(process.pid).includes(pid), 'the child is listed under its parent')

  const mine = processMemory(process.pid)
  const theirs = processMemory(pid)
  const node = realpathSync(process.execPath)
  assert.ok((mine.files.get(node) ?? 0) > 1, 'the node binary is resident in this process')
  assert.ok((theirs.files.get(node) ?? 0) > 1, 'and in the child')
  // The kernel's own sum, read independently of the parser (both move a little between reads).
  assert.ok(Math.abs(theirs.anonymous - anonymousOf(pid)) < 1, `${theirs.anonymous} vs smaps_rollup`)

  const both = machineMemory([mine, theirs])
  const filesOf = (p: typeof mine): number => [...p.files.values()].reduce((a, b) => a + b, 0)
  const binary = Math.min(mine.files.get(node) ?? 0, theirs.files.get(node) ?? 0)
  assert.ok(Math.abs(both.rssSum - (mine.rss + theirs.rss)) < 1e-6)
  assert.ok(both.shared >= Math.max(filesOf(mine), filesOf(theirs)) - 1e-6, 'every file of either counts')
  assert.ok(both.shared <= filesOf(mine) + filesOf(theirs) - binary + 1e-6, 'the node binary counts once')
  assert.ok(Math.abs(both.total - (mine.anonymous + theirs.anonymous + both.shared)) < 1e-6)
  assert.ok(both.total < both.rssSum)
})
