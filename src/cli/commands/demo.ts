/**
 * `gatehouse demo` (npm start): a working gateway on 127.0.0.1:8080 in one command. Creates a
 * SQLite user store under .demo/ with a demo user (its password printed once, at start),
 * starts the example upstream app, and protects it with Basic and Digest.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { parseConfig } from '../../config.js'
import { runGateway } from '../../gateway.js'
import { packageRoot } from '../../package-root.js'
import { UserStore } from '../../../providers/sqlite/store.js'
import { startExampleApp } from '../../../examples/hello-upstream/app.js'
import { parseFlags, type CliIO } from '../flags.js'

export async function demoCommand(args: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(args, { port: { type: 'string' }, host: { type: 'string' }, help: { type: 'boolean', short: 'h' } })
  if (values.help) {
    io.stdout('Usage: gatehouse demo [--port 8080] [--host 127.0.0.1]\n\nRuns the demo gateway with a SQLite user store in .demo/.\n')
    return 0
  }
  const dir = join(packageRoot(), '.demo')
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const database = join(dir, 'users.sqlite')
  const password = randomBytes(9).toString('base64url')
  const store = UserStore.open(database, { create: true })
  try {
    if (store.getUser('demo')) store.setPassword('demo', password, { realms: ['Demo'] })
    else store.addUser('demo', password, { realms: ['Demo'] })
    store.addToGroup('demo', 'staff')
  } finally {
    store.close()
  }
  const upstream = await startExampleApp(0)
  const config = parseConfig({
    listen: { host: values.host ?? '127.0.0.1', port: Number(values.port ?? 8080) },
    digest: { secret: randomBytes(24).toString('base64url') },
    providers: { local: { type: 'sqlite', database } },
    routes: [
      { path: '/basic', upstream: upstream.url, auth: { scheme: 'basic', realm: 'Demo', provider: 'local' } },
      { path: '/digest', upstream: upstream.url, auth: { scheme: ['digest', 'basic'], realm: 'Demo', provider: 'local' } },
      { path: '/staff', upstream: upstream.url, auth: { scheme: ['digest', 'basic'], realm: 'Demo', provider: 'local', require: { groups: ['staff'] } } },
      { path: '/', upstream: upstream.url },
    ],
  }, { baseDir: dir })
  const gw = await runGateway(config)
  const base = gw.address.replace('[::1]', 'localhost')
  io.stdout([
    '',
    `gatehouse demo on ${base}`,
    `  demo user: demo   password: ${password}   (stored in ${database}; a new password each start)`,
    `  curl -u demo:${password} ${base}/basic/hello`,
    `  curl --digest -u demo:${password} ${base}/digest/hello`,
    `  open ${base}/ in a browser; Ctrl-C stops.`,
    '',
  ].join('\n'))
  const code = await gw.untilStopped()
  await upstream.close()
  return code
}
