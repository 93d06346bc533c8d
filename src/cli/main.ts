/**
 * argv → command. Exit codes: 0 ok, 1 failure, 2 usage. No business logic here.
 */
import { parseFlags, type CliIO } from './flags.js'
import { packageVersion } from '../package-root.js'
import { isGatehouseError } from '../errors.js'

type Command = (args: string[], io: CliIO) => Promise<number>

/*
 * Each command is imported when it runs: `start` then never loads the demo's, the user store's
 * or the admin client's modules, which held about 6 MB of the front's memory.
 */
const startCommand: Command = async (a, io) => (await import('./commands/start.js')).startCommand(a, io)
const statusCommand: Command = async (a, io) => (await import('./commands/status.js')).statusCommand(a, io)
const restartCommand: Command = async (a, io) => (await import('./commands/restart.js')).restartCommand(a, io)
const reloadCommand: Command = async (a, io) => (await import('./commands/reload.js')).reloadCommand(a, io)
const cacheCommand: Command = async (a, io) => (await import('./commands/cache.js')).cacheCommand(a, io)
const stopCommand: Command = async (a, io) => (await import('./commands/stop.js')).stopCommand(a, io)
const checkConfigCommand: Command = async (a, io) =>
  (await import('./commands/check-config.js')).checkConfigCommand(a, io)
const demoCommand: Command = async (a, io) => (await import('./commands/demo.js')).demoCommand(a, io)

const commands: Record<string, { run: Command; help: string }> = {
  start: {
    run: startCommand,
    help: 'start --config FILE            run the gateway (SIGTERM/SIGINT: graceful stop, SIGHUP: reload the configuration)',
  },
  status: {
    run: statusCommand,
    help: 'status [--config FILE | --admin URL|SOCKET] [--json]   groups, processes, memory, reloads of a running gateway',
  },
  restart: {
    run: restartCommand,
    help: 'restart GROUP [--config FILE | --admin ...]   rolling restart of one daemon group',
  },
  reload: {
    run: reloadCommand,
    help: 'reload [--config FILE | --admin ...]   re-read the configuration and apply it without dropping connections',
  },
  cache: {
    run: cacheCommand,
    help: "cache flush [--user NAME] [--config FILE | --admin ...]   empty the credential cache of a running gateway (one user's entries, or all)",
  },
  stop: { run: stopCommand, help: 'stop [--config FILE | --admin ...]     graceful stop of a running gateway' },
  'check-config': {
    run: checkConfigCommand,
    help: 'check-config --config FILE     validate a configuration; every error names its key (exit 1)',
  },
  users: {
    run: async (args, io) =>
      (await import('./commands/users.js')).usersCommand(args, { ...io, databaseFromConfig: sqliteDatabaseOf }),
    help: 'users SUBCOMMAND --database FILE   manage the sqlite user store (gatehouse users --help)',
  },
  demo: {
    run: demoCommand,
    help: 'demo [--port N] [--data DIR]   run the tracker-with-Django-users demo on 127.0.0.1:8080',
  },
}

export function usage(): string {
  return [
    'Usage: gatehouse COMMAND [options]',
    '',
    'Commands:',
    ...Object.values(commands).map((c) => `  ${c.help}`),
    '',
    'gatehouse COMMAND --help shows the options of a command; gatehouse --version prints the version.',
    '',
  ].join('\n')
}

export async function main(argv: string[], io: CliIO = defaultIO()): Promise<number> {
  const [name, ...rest] = argv
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(usage())
    return name ? 0 : 2
  }
  if (name === '--version' || name === '-v') {
    io.stdout(`${packageVersion()}\n`)
    return 0
  }
  const cmd = commands[name]
  if (!cmd) {
    io.stderr(`gatehouse: unknown command ${name}\n\n${usage()}`)
    return 2
  }
  try {
    return await cmd.run(rest, io)
  } catch (err) {
    if (!isGatehouseError(err, 'GH_ERR_CLI_USAGE')) throw err
    io.stderr(`gatehouse: ${err.message}\n`)
    return 2
  }
}

/** The database of the sqlite provider NAME (or the only one) in a configuration file. */
async function sqliteDatabaseOf(providerName?: string, configPath?: string): Promise<string> {
  const { loadConfigFile } = await import('../config/load-file.js')
  const config = await loadConfigFile(configPath ?? 'gatehouse.yaml')
  const sqlite = Object.values(config.providers).filter(
    (p) => p.type === 'sqlite' && (providerName === undefined || p.name === providerName),
  )
  if (sqlite.length !== 1)
    throw new Error(
      providerName
        ? `no sqlite provider named ${providerName} in ${configPath}`
        : `${configPath} has ${sqlite.length} sqlite providers: name one with --provider`,
    )
  return String(sqlite[0]!.options.database)
}

function defaultIO(): CliIO {
  return {
    stdin: process.stdin,
    stdout: (s) => void process.stdout.write(s),
    stderr: (s) => void process.stderr.write(s),
  }
}

export { parseFlags }
