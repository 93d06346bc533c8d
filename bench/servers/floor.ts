/**
 * The two-process floor: the least any front + daemon design can cost on this machine. A bare
 * node:http front relays each request to a daemon process over one unix socket (4-byte request
 * ids, written once per event-loop turn, as gatehouse batches its frames), the daemon sends the
 * ids straight back, and the front answers "hello". No auth, no headers, no app: what is left is
 * the second process and the extra socket hop. Its ratio bounds what gatehouse's group rows can
 * reach here. Prints {"url","daemonPid"} once listening; `--daemon PATH` is the daemon's role.
 */
import { fork } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer as createHttpServer, type ServerResponse } from 'node:http'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Collects 4-byte ids and writes them as one buffer when the event loop turns. */
function batcher(socket: Socket): (id: number) => void {
  let ids: number[] = []
  const flush = (): void => {
    const out = Buffer.allocUnsafe(ids.length * 4)
    ids.forEach((id, i) => out.writeUInt32BE(id, i * 4))
    ids = []
    socket.write(out)
  }
  return (id) => {
    if (ids.push(id) === 1) setImmediate(flush)
  }
}

/** Calls `onId` for every whole 4-byte id in the stream. */
function readIds(socket: Socket, onId: (id: number) => void): void {
  let rest: Buffer = Buffer.alloc(0)
  socket.on('data', (chunk: Buffer) => {
    const buf = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk
    const whole = buf.length - (buf.length % 4)
    for (let o = 0; o < whole; o += 4) onId(buf.readUInt32BE(o))
    rest = buf.subarray(whole)
  })
}

function daemon(path: string): void {
  createServer((socket) => {
    const send = batcher(socket)
    readIds(socket, send)
  }).listen(path, () => process.send?.('ready'))
  // The front is gone (even by SIGKILL): so is the daemon.
  process.once('disconnect', () => process.exit(0))
}

async function front(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gh-floor-'))
  const path = join(dir, 'd.sock')
  const child = fork(fileURLToPath(import.meta.url), ['--daemon', path], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  })
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve())
    child.once('exit', (code) => reject(new Error(`floor daemon exited with ${code}`)))
  })
  const socket = connect(path)
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  const waiting = new Map<number, ServerResponse>()
  let next = 1
  const send = batcher(socket)
  readIds(socket, (id) => {
    const res = waiting.get(id)
    waiting.delete(id)
    res?.setHeader('content-type', 'text/plain')
    res?.end('hello')
  })
  const server = createHttpServer((_req, res) => {
    const id = next
    next = next >= 0xffffffff ? 1 : next + 1
    waiting.set(id, res)
    send(id)
  })
  server.keepAliveTimeout = 60_000
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo
    process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${port}/`, daemonPid: child.pid }) + '\n')
  })
  process.once('SIGTERM', () => {
    server.closeAllConnections()
    server.close(() => {
      child.kill('SIGTERM')
      rmSync(dir, { recursive: true, force: true })
      process.exit(0)
    })
  })
}

const at = process.argv.indexOf('--daemon')
if (at !== -1) daemon(process.argv[at + 1] as string)
else await front()
