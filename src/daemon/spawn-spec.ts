/**
 * How a group's processes are started: which kind of worker (Node, or Python for a WSGI app),
 * which binary, which arguments, which environment.
 * The environment is an allowlist plus the group's own `env`, never the front's whole
 * environment (its secrets, NODE_OPTIONS, NODE_PATH); HOME is the group's cwd unless given, so
 * `$HOME/.node_modules` of the front's user does not leak into module resolution.
 */
import { fileURLToPath } from 'node:url'
import { dirname, extname, join } from 'node:path'
import { errors } from '../errors.js'
import { DEFAULTS } from '../config/defaults.js'
import type { GroupConfig } from '../config/types.js'
import type { WorkerKind } from '../ipc/protocol.js'
import { packageRoot } from '../package-root.js'

/**
 * Variables passed through from the front when the group does not set them. NODE_V8_COVERAGE
 * (a directory, no secret) lets a coverage run of the front (c8) count the workers' code too.
 */
export const ENV_ALLOWLIST = [
  'PATH',
  'LANG',
  'LANGUAGE',
  'LC_ALL',
  'LC_CTYPE',
  'LC_MESSAGES',
  'TZ',
  'TMPDIR',
  'NODE_V8_COVERAGE',
] as const

export interface SpawnSpec {
  kind: WorkerKind
  command: string
  args: string[]
  cwd: string
  env: Record<string, string>
}

const TS_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.tsx'])

/** The Python worker, shipped as source in the package (standard library only). */
export function pythonWorkerPath(): string {
  return join(packageRoot(), 'src', 'daemon', 'python', 'gatehouse_worker.py')
}

export function buildSpawnSpec(group: GroupConfig, frontEnv: NodeJS.ProcessEnv = process.env): SpawnSpec {
  if (group.kind === 'python') {
    const env = buildEnv(group, frontEnv)
    // The app's print() and tracebacks reach the front's log line by line, not at exit.
    env.PYTHONUNBUFFERED ??= '1'
    return {
      kind: 'python',
      command: group.python ?? DEFAULTS['groups.NAME.python'],
      args: [pythonWorkerPath()],
      cwd: group.cwd,
      env,
    }
  }
  const self = fileURLToPath(import.meta.url)
  const entry = join(dirname(self), `worker${extname(self)}`)
  const needsTs = [entry, group.app, group.provider].some((f) => f !== undefined && TS_EXTENSIONS.has(extname(f)))
  const args = [...group.execArgv]
  if (needsTs) args.push('--import', tsxLoader(group.name))
  args.push(entry)
  return { kind: 'node', command: group.node ?? process.execPath, args, cwd: group.cwd, env: buildEnv(group, frontEnv) }
}

export function buildEnv(group: GroupConfig, frontEnv: NodeJS.ProcessEnv): Record<string, string> {
  const env: Record<string, string> = {}
  for (const name of ENV_ALLOWLIST) {
    const value = frontEnv[name]
    if (value !== undefined) env[name] = value
  }
  // A worker that drops to another user cannot write into the front's coverage directory, and
  // Node would say so on stderr at every exit.
  if ((group.user !== undefined || group.group !== undefined) && group.env.NODE_V8_COVERAGE === undefined)
    delete env.NODE_V8_COVERAGE
  Object.assign(env, group.env)
  env.HOME = group.env.HOME ?? group.cwd
  return env
}

let loader: string | undefined

/** tsx's ESM loader from gatehouse's own node_modules, as an absolute file URL. */
function tsxLoader(group: string): string {
  if (loader !== undefined) return loader
  try {
    loader = import.meta.resolve('tsx')
  } catch (err) {
    throw errors.GH_ERR_OPT_INVALID(
      `group ${group}: a TypeScript app or provider needs tsx, which cannot be resolved from gatehouse`,
      { cause: err },
    )
  }
  return loader
}
