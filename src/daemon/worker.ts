/**
 * Entry point of a Node daemon process. The supervisor spawns it with the control channel on
 * fd 3 (ipc/control-channel.ts) and sends `init`; the worker binds its 0600 data socket, drops
 * privileges if configured, loads the app (and provider), then reports `ready`. It exits on
 * `shutdown` (after draining) and as soon as the supervisor goes away (the control channel
 * closes), so no daemon outlives the front. A first SIGTERM/SIGINT is ignored while the front
 * is there (see handleSignals).
 */
import { fstatSync, rmSync } from 'node:fs'
import type { RequestListener } from 'node:http'
import { Socket } from 'node:net'
import { constants as osConstants } from 'node:os'
import { pathToFileURL } from 'node:url'
import { ControlChannel } from '../ipc/control-channel.js'
import {
  CONTROL_FD,
  PROTOCOL_VERSION,
  readToWorker,
  type FromWorker,
  type ToWorker,
  type WorkerInit,
} from '../ipc/protocol.js'
import { dropPrivileges } from './privileges.js'
import { ProviderHost } from './provider-host.js'
import { WorkerServer } from './worker-server.js'

const INIT_TIMEOUT_MS = 30_000

/** Set once the shutdown handler that drains is installed and `ready` is sent. */
let ready = false
let control: ControlChannel<ToWorker, FromWorker> | null = null
/** Control messages after init go to these (the shutdown handlers). */
const listeners: Array<(msg: ToWorker) => void> = []

function send(msg: FromWorker, then?: () => void): void {
  if (control === null) then?.()
  else control.send(msg, then)
}

function log(level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown> = {}): void {
  send({ type: 'log', level, msg, fields })
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}

async function loadApp(file: string): Promise<RequestListener> {
  const mod = (await import(pathToFileURL(file).href)) as { default?: unknown }
  if (typeof mod.default !== 'function') {
    throw new TypeError(
      `app module ${file}: default export must be a request listener (req, res), got ${typeof mod.default}`,
    )
  }
  return mod.default as RequestListener
}

async function boot(init: WorkerInit): Promise<void> {
  if (init.v !== PROTOCOL_VERSION) throw new Error(`protocol version ${init.v}, expected ${PROTOCOL_VERSION}`)
  const secret = Buffer.from(init.secret, 'hex')
  const listener: { app: RequestListener } = { app: () => {} }
  let provider: ProviderHost | null = null
  const server = new WorkerServer({
    socketPath: init.socketPath,
    secret,
    app: (req, res) => listener.app(req, res),
    get provider() {
      return provider
    },
    onError: (msg, err) => log('error', msg, { error: describe(err) }),
  })
  await server.listen()
  // Best effort: the supervisor removes sockets too, but it may be the one that died.
  process.once('exit', () => {
    try {
      rmSync(init.socketPath, { force: true })
    } catch {
      /* not ours to remove any more */
    }
  })
  dropPrivileges(init.user, init.unixGroup)
  listener.app = await loadApp(init.app)
  if (init.provider !== undefined) {
    provider = await ProviderHost.load(
      init.provider,
      {
        baseDir: process.cwd(),
        name: init.group,
        // The provider's data changed (a password set through the app): the front empties its cache entries.
        changed: () => send({ type: 'changed' }),
        log: {
          info: (msg, fields) => log('info', msg, fields),
          warn: (msg, fields) => log('warn', msg, fields),
          error: (msg, fields) => log('error', msg, fields),
        },
      },
      init.providerOptions ?? {},
    )
  }
  listeners.push((msg) => {
    if (msg.type !== 'shutdown') return
    void server
      .close(msg.graceMs)
      .then(() => provider?.close())
      .catch((err: unknown) => log('warn', 'provider close failed', { error: describe(err) }))
      .finally(() => process.exit(0))
  })
  ready = true
  send(
    provider === null
      ? { type: 'ready', pid: process.pid }
      : { type: 'ready', pid: process.pid, providerMethods: provider.methods },
  )
}

/**
 * Daemons share the front's process group, so Ctrl-C in a terminal or systemd's SIGTERM to the
 * control group reaches them together with the front, which then drains them and sends
 * `shutdown`: dying at once would fail the requests in flight. So while connected and not told
 * to shut down, the first SIGTERM/SIGINT is only logged; a second one, or any after `shutdown`
 * (the supervisor escalates with SIGTERM after the grace), exits at once. A `shutdown` before
 * `ready` exits at once too: nothing can be in flight, and the draining handler is not set yet.
 */
function handleSignals(isReady: () => boolean): void {
  let shutdownAsked = false
  let ignoredOne = false
  listeners.push((msg) => {
    if (msg.type !== 'shutdown') return
    shutdownAsked = true
    if (!isReady()) process.exit(0)
  })
  const onSignal = (signal: NodeJS.Signals): void => {
    if (ignoredOne || shutdownAsked || !connected()) {
      log('warn', `${signal}: exiting now`, { signal })
      process.exit(128 + (osConstants.signals[signal] ?? 0))
    }
    ignoredOne = true
    log('info', `${signal} ignored: the front stops this process (a second signal exits at once)`, { signal })
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  // A closing terminal hangs up the whole process group: the front treats SIGHUP as "reload",
  // and reloads are its to run. While the front is there, a daemon outlives a hang-up.
  process.on('SIGHUP', () => {
    if (!connected()) process.exit(128 + (osConstants.signals.SIGHUP ?? 1))
    log('info', 'SIGHUP ignored: the front decides about reloads', { signal: 'SIGHUP' })
  })
}

function connected(): boolean {
  return control?.open ?? false
}

function main(): void {
  try {
    if (!fstatSync(CONTROL_FD).isSocket()) throw new Error('not a socket')
  } catch {
    process.stderr.write(
      `gatehouse worker: must be spawned by the supervisor (no control channel on fd ${CONTROL_FD})\n`,
    )
    process.exit(2)
  }
  const timer = setTimeout(() => process.exit(2), INIT_TIMEOUT_MS)
  let initialized = false
  control = new ControlChannel<ToWorker, FromWorker>(new Socket({ fd: CONTROL_FD, readable: true, writable: true }), {
    read: readToWorker,
    onMessage: (msg) => {
      if (initialized) {
        for (const fn of [...listeners]) fn(msg)
        return
      }
      initialized = true
      clearTimeout(timer)
      if (msg.type !== 'init') return process.exit(2)
      start(msg)
    },
    onInvalid: (why) => {
      process.stderr.write(`gatehouse worker: control channel: ${why}\n`)
      process.exit(2)
    },
    // The front went away: no daemon outlives it.
    onClose: () => process.exit(0),
  })
  handleSignals(() => ready)
}

function start(msg: WorkerInit): void {
  boot(msg).catch((err: unknown) => {
    const code =
      err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : 'GH_ERR_GROUP_FAILED'
    log('error', 'worker failed to start', { error: describe(err) })
    send({ type: 'failed', code, message: describe(err) }, () => process.exit(1))
  })
}

main()
