/**
 * A private redis-server (Debian's redis-server) for one test file: no TCP (--port 0), a unix
 * socket in a temporary directory, no persistence. Killed by its PID; restarted on the same
 * socket, so clients configured with it find it again.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { connect } from 'node:net'
import { join } from 'node:path'
import { isExecutable, skipOrFail } from './run.js'

export const REDIS_SERVER = '/usr/bin/redis-server'

export function skipUnlessRedis(): string | false {
  return isExecutable(REDIS_SERVER) ? false : skipOrFail(`${REDIS_SERVER} not found (Debian package redis-server)`)
}

export interface RedisServer {
  socket: string
  /** unix:///…/redis.sock, as state.redis takes it. */
  url: string
  readonly pid: number
  /** SIGKILL by PID; resolves once the process is gone. */
  kill(): Promise<void>
  /** Starts it again on the same socket (empty: nothing was persisted). */
  restart(): Promise<void>
  stop(): Promise<void>
}

/** Sends PING on the socket; true on +PONG. */
function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(socket)
    const timer = setTimeout(() => {
      s.destroy()
      resolve(false)
    }, 500)
    s.on('error', () => {
      clearTimeout(timer)
      resolve(false)
    })
    s.on('connect', () => s.write('PING\r\n'))
    s.on('data', (d) => {
      clearTimeout(timer)
      s.destroy()
      resolve(d.toString().startsWith('+PONG'))
    })
  })
}

export async function startRedis(dir: string): Promise<RedisServer> {
  const socket = join(dir, 'redis.sock')
  let child: ChildProcess
  let exited: Promise<void>
  const launch = async (): Promise<void> => {
    child = spawn(
      REDIS_SERVER,
      [
        '--port',
        '0',
        '--unixsocket',
        socket,
        '--unixsocketperm',
        '700',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
      ],
      { stdio: 'ignore' },
    )
    exited = new Promise((resolve) => child.once('exit', () => resolve()))
    const deadline = Date.now() + 10_000
    while (!(await ping(socket))) {
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error('redis-server did not answer PING within 10 s')
      await new Promise((r) => setTimeout(r, 25))
    }
  }
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  }
  await launch()
  return {
    socket,
    url: `unix://${socket}`,
    get pid() {
      return child.pid as number
    },
    kill,
    restart: launch,
    stop: kill,
  }
}
