/**
 * A forked front worker whose state is held by a StateHost in the test process (the primary):
 * test/fixtures/cluster/state-front.ts on its own 127.0.0.1 port, attached to the host over its
 * IPC pipe. Counts the state messages it sends, by topic; stopped (SIGTERM, then SIGKILL) by the
 * function it pushes on `stops`.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Channel } from '../../src/cluster/channel.js'
import type { StateHost } from '../../src/cluster/state-host.js'

const FRONT = fileURLToPath(new URL('../fixtures/cluster/state-front.ts', import.meta.url))

export interface StateFront {
  url: string
  control: string
  proc: ChildProcess
  channel: Channel
  detach: () => void
  /** State messages this worker sent the primary, by topic. */
  sent: Map<string, number>
  /** What the worker logged (stderr). */
  log(): string
}

export async function startStateFront(
  host: StateHost,
  opts: { config: Record<string, unknown>; baseDir: string; timeoutMs: number },
  stops: Array<() => Promise<void>>,
): Promise<StateFront> {
  const proc = fork(FRONT, [JSON.stringify(opts)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  })
  const sent = new Map<string, number>()
  proc.on('message', (m: unknown) => {
    const topic = (m as { t?: unknown } | null)?.t
    if (typeof topic === 'string' && topic.startsWith('state.')) sent.set(topic, (sent.get(topic) ?? 0) + 1)
  })
  const channel = new Channel(proc)
  const detach = host.attach(channel)
  let out = ''
  let err = ''
  proc.stderr?.on('data', (c: Buffer) => (err += c.toString()))
  stops.push(async () => {
    detach()
    channel.close()
    if (proc.exitCode !== null || proc.signalCode !== null) return
    const exited = new Promise((r) => proc.once('exit', r))
    proc.kill('SIGTERM')
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
  })
  const ready = await new Promise<{ url: string; control: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`front not ready: ${err}`)), 30_000)
    proc.stdout?.on('data', (c: Buffer) => {
      out += c.toString()
      const line = out.split('\n').find((l) => l.startsWith('STATE-FRONT '))
      if (line === undefined) return
      clearTimeout(timer)
      resolve(JSON.parse(line.slice('STATE-FRONT '.length)) as { url: string; control: string })
    })
    proc.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`front exited with ${code}: ${err}`))
    })
  })
  return { ...ready, proc, channel, detach, sent, log: () => err }
}
