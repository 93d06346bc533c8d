/**
 * `gatehouse demo` (npm start): the tracker-with-Django-users demo of
 * examples/tracker-with-django-users in one command. Two daemon groups (tracker, accounts)
 * behind the front; the accounts app's provider checks every tracker login. The example's
 * seed.ts makes the data dir (default .demo/ at the package root), its secrets, an admin in
 * group staff and a normal user (new random passwords printed at each start); then the gateway
 * runs from the example's gatehouse.yaml. SIGINT/SIGTERM stop everything.
 */
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Logger } from 'pino'
import { parse as parseYaml } from 'yaml'
import { parseConfig } from '../../config/parse.js'
import type { Config } from '../../config/types.js'
import { isGatehouseError } from '../../errors.js'
import { runGateway, type RunningGateway } from '../../gateway.js'
import { packageRoot } from '../../package-root.js'
import { parseFlags, type CliIO } from '../flags.js'

export interface DemoOptions {
  /** Where the databases and secrets live. Default: .demo/ at the package root. */
  dataDir?: string
  host?: string
  /** 0 picks a free port. Default 8080. */
  port?: number
  logger?: Logger
  /** Install the gateway's signal handlers (the CLI does). Default true. */
  signals?: boolean
}

/** A user seed.ts made, with the password it set (examples/tracker-with-django-users/seed.ts). */
export interface DemoUser {
  name: string
  password: string
  groups: string[]
}

export interface RunningDemo {
  gateway: RunningGateway
  /** http://host:port of the front server. */
  url: string
  dataDir: string
  users: DemoUser[]
}

/** The example directory the demo runs (its gatehouse.yaml, apps and provider). */
export function demoExampleDir(): string {
  return join(packageRoot(), 'examples', 'tracker-with-django-users')
}

/** The example's gatehouse.yaml with DATA_DIR, digest.secretFile and listen pointed where asked. */
export function loadDemoConfig(dataDir: string, listen: { host: string; port: number }): Config {
  const dir = demoExampleDir()
  const raw = parseYaml(readFileSync(join(dir, 'gatehouse.yaml'), 'utf8')) as {
    listen?: unknown
    digest?: Record<string, unknown>
    groups?: Record<string, { env?: Record<string, string> }>
  }
  raw.listen = listen
  raw.digest = { ...raw.digest, secretFile: join(dataDir, 'digest.secret') }
  for (const group of Object.values(raw.groups ?? {})) group.env = { ...group.env, DATA_DIR: dataDir }
  return parseConfig(raw, { baseDir: dir })
}

/** What `gatehouse demo` uses of the example's seed.ts (loaded at run time, see loadSeed). */
interface DemoSeed {
  seedDemo(dataDir: string, accountsEnv: Record<string, string>): Promise<DemoUser[]>
}

/**
 * The example's own code (seed.ts) is TypeScript shipped beside its apps and run through tsx, as
 * its daemon groups are: importing it here would compile the example into dist/.
 */
async function loadSeed(): Promise<DemoSeed> {
  const { tsImport } = await import('tsx/esm/api')
  return (await tsImport(pathToFileURL(join(demoExampleDir(), 'seed.ts')).href, import.meta.url)) as DemoSeed
}

export async function startDemo(opts: DemoOptions = {}): Promise<RunningDemo> {
  const dataDir = resolve(opts.dataDir ?? join(packageRoot(), '.demo'))
  const host = opts.host ?? '127.0.0.1'
  const config = loadDemoConfig(dataDir, { host, port: opts.port ?? 8080 })
  const users = await (await loadSeed()).seedDemo(dataDir, config.groups.accounts?.env ?? {})
  const gateway = await runGateway(config, {
    ...(opts.logger ? { logger: opts.logger } : {}),
    signals: opts.signals ?? true,
  })
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${new URL(gateway.address).port}`
  return { gateway, url, dataDir, users }
}

export async function demoCommand(args: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(
    args,
    {
      port: { type: 'string' },
      host: { type: 'string' },
      data: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    'demo',
  )
  if (values.help) {
    io.stdout(
      'Usage: gatehouse demo [--port 8080] [--host 127.0.0.1] [--data DIR]\n\nRuns examples/tracker-with-django-users: a tracker protected by the users of an accounts app.\nData (SQLite files, secrets) in DIR, default .demo/ at the package root.\n',
    )
    return 0
  }
  const port = Number(values.port ?? 8080)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    io.stderr(`gatehouse demo: --port must be 0..65535, got ${values.port}\n`)
    return 2
  }
  let demo: RunningDemo
  try {
    demo = await startDemo({
      port,
      ...(values.host ? { host: values.host } : {}),
      ...(values.data ? { dataDir: values.data } : {}),
    })
  } catch (err) {
    if (!isGatehouseError(err) && (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err
    io.stderr(`gatehouse demo: ${(err as Error).message}\n`)
    return 1
  }
  const { url, users } = demo
  const [admin, alice] = users as [DemoUser, DemoUser]
  io.stdout(
    [
      '',
      `gatehouse demo on ${url}   (data in ${demo.dataDir}; new passwords at each start)`,
      `  demo user: ${admin.name} password: ${admin.password}   (group staff: tracker admin, accounts admin)`,
      `  demo user: ${alice.name} password: ${alice.password}   (no group)`,
      `  open ${url}/ in a browser, or:`,
      `  curl --digest -u ${alice.name}:${alice.password} ${url}/tracker/`,
      `  curl -u ${admin.name}:${admin.password} ${url}/tracker/admin`,
      '  Ctrl-C stops the front and both daemon groups.',
      '',
    ].join('\n'),
  )
  return demo.gateway.untilStopped()
}
