/** A private redis-server on a unix socket in `dir` (no persistence), for the rows with `state.redis`. */
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { Redis } from 'ioredis'

export const REDIS_SERVER = '/usr/bin/redis-server'

export async function startRedis(dir: string): Promise<{ child: ChildProcess; client: Redis; url: string }> {
  const socket = join(dir, 'redis.sock')
  const child = spawn(
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
  const client = new Redis({ path: socket, retryStrategy: (n) => (n > 100 ? null : 50) })
  // Until redis-server has made its socket, connecting fails and is retried.
  client.on('error', () => {})
  await client.ping()
  return { child, client, url: `unix://${socket}` }
}
