/**
 * Runs a real client binary with a bounded lifetime: spawn's `timeout` kills that child (by its
 * pid) when it overstays, so a hung client fails its test instead of hanging the suite.
 */
import { spawn } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface RunOptions {
  /** Killed with SIGKILL after this long. Default 20 s. */
  timeoutMs?: number
  /** Written to stdin, which is then closed. Without it stdin is /dev/null. */
  input?: string
  cwd?: string
  env?: NodeJS.ProcessEnv
}

/** Loopback traffic must never go through a proxy the environment may name. */
export const noProxyEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!/_proxy$/i.test(k)) env[k] = v
  return { ...env, NO_PROXY: '*', no_proxy: '*' }
}

export function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: opts.cwd,
      env: opts.env ?? noProxyEnv(),
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      timeout: opts.timeoutMs ?? 20_000,
      killSignal: 'SIGKILL',
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout?.on('data', (c: Buffer) => out.push(c))
    child.stderr?.on('data', (c: Buffer) => err.push(c))
    child.on('error', reject)
    child.on('close', (code, signal) => {
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      })
    })
    if (child.stdin) {
      // A child may exit without reading its input: that EPIPE is not the test's failure.
      child.stdin.on('error', () => {})
      child.stdin.end(opts.input)
    }
  })
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** The first executable `name` on PATH, or undefined. */
export function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && isExecutable(join(dir, name))) return join(dir, name)
  }
  return undefined
}

/** A skip reason for node:test when a client binary is missing, else false. */
export function skipUnless(path: string | undefined, what: string, debianPackage: string): string | false {
  if (path !== undefined && isExecutable(path)) return false
  return skipOrFail(`${what} not found${path === undefined ? '' : ` at ${path}`} (Debian package ${debianPackage})`)
}

/**
 * A missing client skips the interop test on a developer's machine; under .ci/run, which
 * installs every client, it is a failure: a green CI must mean the clients really ran.
 */
export function skipOrFail(reason: string): string {
  if (process.env.GATEHOUSE_INTEROP_REQUIRED === '1')
    throw new Error(`${reason}: required by .ci/run (GATEHOUSE_INTEROP_REQUIRED=1)`)
  return `${reason}; test skipped`
}
