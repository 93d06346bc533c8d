/**
 * Starts Debian's nginx as a child (`daemon off`) on a free loopback port with the recipe of
 * examples/sidecar-nginx/nginx.conf (or another example's), its placeholders filled in; `stop()`
 * ends it by its PID.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { join } from 'node:path'

export const NGINX = '/usr/sbin/nginx'

export interface RunningNginx {
  port: number
  /** The error log, for a failing assertion's message. */
  errorLog(): string
  stop(): Promise<void>
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port })
    s.on('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.on('error', () => resolve(false))
  })
}

/** nginx in `dir` (created), in front of `upstreamPort`, asking gatehouse at `gatehousePort`. */
export async function startExampleNginx(
  dir: string,
  gatehousePort: number,
  upstreamPort: number,
  example = 'sidecar-nginx',
): Promise<RunningNginx> {
  mkdirSync(dir, { recursive: true })
  const port = await freePort()
  const conf = readFileSync(new URL(`../../../examples/${example}/nginx.conf`, import.meta.url), 'utf8')
    .replaceAll('@DIR@', dir)
    .replaceAll('@LISTEN@', `127.0.0.1:${port}`)
    .replaceAll('@GATEHOUSE@', `127.0.0.1:${gatehousePort}`)
    .replaceAll('@UPSTREAM@', `127.0.0.1:${upstreamPort}`)
  // Run as root (CI): the worker would switch to "nobody", which cannot read the temp dir.
  const file = join(dir, 'nginx.conf')
  writeFileSync(file, (process.getuid?.() === 0 ? 'user root;\n' : '') + conf)
  const child: ChildProcess = spawn(NGINX, ['-p', dir, '-c', file, '-e', join(dir, 'startup.log')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  child.stderr?.resume()
  const errorLog = () => {
    try {
      return readFileSync(join(dir, 'error.log'), 'utf8')
    } catch {
      return ''
    }
  }
  const stop = async () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r))
      process.kill(child.pid, 'SIGQUIT')
      await exited
    }
  }
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${errorLog()}`)
    if (await accepts(port)) return { port, errorLog, stop }
    await new Promise((r) => setTimeout(r, 50))
  }
  await stop()
  throw new Error('nginx did not start listening')
}
