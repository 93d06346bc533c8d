/**
 * The ceiling of the `workers:` rows: the bench's bare Fastify hello (bench/servers/bare.ts)
 * under node:cluster with argv[2] workers, the primary holding the listening socket and handing
 * connections out round-robin as gatehouse's primary does. Prints {"url","pids"} on stdout once
 * every worker listens; pids[0] is the primary.
 */
import cluster from 'node:cluster'
import Fastify from 'fastify'

if (cluster.isPrimary) {
  const n = Number(process.argv[2] ?? '1')
  if (!Number.isInteger(n) || n < 1) throw new Error(`bare-cluster: workers must be a whole number ≥ 1, got ${n}`)
  const workers = Array.from({ length: n }, () => cluster.fork())
  // Workers listening on port 0 share one port the primary picks (cluster keys the handle by address).
  const ports = await Promise.all(workers.map((w) => new Promise<number>((r) => w.once('listening', (a) => r(a.port)))))
  const port = ports[0] as number
  process.stdout.write(
    JSON.stringify({
      url: `http://127.0.0.1:${port}`,
      pids: [process.pid, ...workers.map((w) => w.process.pid as number)],
    }) + '\n',
  )
  process.once('SIGTERM', () => {
    for (const w of workers) w.process.kill('SIGTERM')
    cluster.once('exit', () => {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0)
    })
    setTimeout(() => process.exit(0), 2000).unref()
  })
} else {
  const app = Fastify()
  app.get('/', async () => 'hello')
  await app.listen({ host: '127.0.0.1', port: 0 })
  process.once('SIGTERM', () => {
    void app.close().then(() => process.exit(0))
  })
}
