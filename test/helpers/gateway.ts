/** Starts a real gateway on 127.0.0.1 (an ephemeral port) from a config object; logs captured. */
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { parseConfig } from '../../src/config/parse.js'
import { runGateway, type RunningGateway } from '../../src/gateway.js'
import { createLogger } from '../../src/log.js'
import { logRecords } from './json-keys.js'

export interface TestGateway {
  url: string
  port: number
  gw: RunningGateway
  logs: string[]
  dir: string
  close(): Promise<void>
}

export function tempDir(prefix = 'gh-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

export function writeFile(dir: string, name: string, content: string): string {
  const p = join(dir, name)
  writeFileSync(p, content)
  return p
}

export async function startGateway(raw: Record<string, unknown>, baseDir: string): Promise<TestGateway> {
  const logs: string[] = []
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk))
      cb()
    },
  })
  const config = parseConfig({ listen: { host: '127.0.0.1', port: 0 }, ...raw }, { baseDir })
  const gw = await runGateway(config, { logger: createLogger('info', sink), signals: false })
  const port = Number(new URL(gw.address).port)
  // Every gateway a test starts proves its log machine-readable: one JSON object a line, each key once.
  const close = async (): Promise<void> => {
    await gw.stop()
    logRecords(logs.join(''))
  }
  return { url: `http://127.0.0.1:${port}`, port, gw, logs, dir: baseDir, close }
}
