/**
 * A gateway with front workers (`workers: 2` unless the configuration says otherwise), its
 * primary in the test process, on 127.0.0.1 with an admin listener. Which worker answered is read
 * from the access lines the workers write (their pid), captured through RunOptions.workerOutput.
 */
import { Writable } from 'node:stream'
import { parseConfig } from '../../src/config/parse.js'
import { runGateway, type RunningGateway } from '../../src/gateway.js'
import { createLogger } from '../../src/log.js'

export interface WorkersGateway {
  gw: RunningGateway
  port: number
  admin: string
  /** Parsed JSON lines of the workers, with the worker index. */
  workerLines: Array<Record<string, unknown> & { worker: number }>
  primaryLogs: string[]
}

export async function startWorkers(
  t: { after(fn: () => Promise<void> | void): void },
  raw: Record<string, unknown>,
  dir: string,
  configFile?: string,
): Promise<WorkersGateway> {
  const primaryLogs: string[] = []
  const workerLines: WorkersGateway['workerLines'] = []
  const sink = new Writable({
    write(chunk, _enc, cb) {
      primaryLogs.push(String(chunk))
      cb()
    },
  })
  const config = parseConfig(
    { listen: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 }, workers: 2, ...raw },
    { baseDir: dir },
  )
  const gw = await runGateway(config, {
    logger: createLogger('info', sink),
    signals: false,
    ...(configFile ? { configFile } : {}),
    workerOutput: (line, worker) => {
      try {
        workerLines.push({ ...(JSON.parse(line) as Record<string, unknown>), worker })
      } catch {
        workerLines.push({ msg: line, worker })
      }
    },
  })
  t.after(() => gw.stop())
  return { gw, port: Number(new URL(gw.address).port), admin: gw.adminAddress!, workerLines, primaryLogs }
}

export function accessPids(lines: WorkersGateway['workerLines']): Set<number> {
  return new Set(lines.filter((l) => l.msg === 'access').map((l) => l.pid as number))
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

export async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
