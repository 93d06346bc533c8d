/**
 * A gateway in a process of its own (the code path of `gatehouse start`), for tests that measure
 * the front's own memory apart from the test's clients. As a script, argv[2] is
 * `{ config, baseDir }`; it prints `FRONT-READY {"url":…,"daemons":[{group,pid}]}` on stdout once
 * listening and stops on SIGTERM. startFrontProcess() runs it and stops it by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export interface FrontProcess {
  url: string
  pid: number
  daemons: Array<{ group: string; pid: number }>
  /** Everything the front wrote (its log lines). */
  output(): string
  stop(): Promise<void>
}

const READY = 'FRONT-READY '

export function startFrontProcess(
  config: Record<string, unknown>,
  baseDir: string,
  timeoutMs = 30_000,
): Promise<FrontProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), JSON.stringify({ config, baseDir })],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    await exited
    clearTimeout(timer)
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop()
      reject(new Error(`front not ready within ${timeoutMs} ms: ${out}`))
    }, timeoutMs)
    child.stderr?.on('data', (c: Buffer) => {
      out += c.toString()
    })
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString()
      const line = out.split('\n').find((l) => l.startsWith(READY))
      if (line === undefined || child.pid === undefined) return
      clearTimeout(timer)
      const ready = JSON.parse(line.slice(READY.length)) as { url: string; daemons: FrontProcess['daemons'] }
      resolve({ ...ready, pid: child.pid, output: () => out, stop })
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`front exited with ${code} before it was ready: ${out}`))
    })
  })
}

async function main(): Promise<void> {
  const { config, baseDir } = JSON.parse(process.argv[2] ?? '{}') as {
    config: Record<string, unknown>
    baseDir: string
  }
  const { parseConfig } = await import('../../src/config/parse.js')
  const { runGateway } = await import('../../src/gateway.js')
  const gw = await runGateway(parseConfig({ listen: { host: '127.0.0.1', port: 0 }, ...config }, { baseDir }))
  const daemons = (gw.supervisor?.status() ?? []).flatMap((g) =>
    g.processes.map((p) => ({ group: g.name, pid: p.pid })),
  )
  process.stdout.write(`${READY}${JSON.stringify({ url: gw.address, daemons })}\n`)
  process.exitCode = await gw.untilStopped()
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main()
