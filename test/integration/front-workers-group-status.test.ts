/**
 * `workers: 2` in front of one daemon group: the primary supervises the group's process, the
 * workers dispatch to it over their own data connections. What only the workers know (requests
 * in flight and waiting) must reach the primary's status page and /metrics; a worker whose data
 * connection closes must connect again by itself; a worker started later must find the current
 * processes. Which worker answered is read from the access lines the workers write (their pid).
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { Agent, request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { tempDir } from '../helpers/gateway.js'
import { httpGet, type TextResponse } from '../helpers/http-get.js'
import { alive, startWorkers, until, type WorkersGateway } from '../helpers/workers-gateway.js'

const APP = fileURLToPath(new URL('../fixtures/apps/held-connections.ts', import.meta.url))

interface GroupJson {
  name: string
  queued: number
  restarts: number
  generation: number
  processes: Array<{ pid: number; state: string; inflight: number }>
}

async function startGroup(
  t: TestContext,
  group: Record<string, unknown>,
): Promise<WorkersGateway & { dir: string; release: () => void }> {
  const { dir, cleanup } = tempDir('gh-wgs-')
  const w = await startWorkers(
    t,
    { groups: { app: { app: APP, cwd: dir, processes: 1, ...group } }, routes: [{ path: '/', group: 'app' }] },
    dir,
  )
  // After the gateway's stop (hooks run in order): the held requests poll a file there.
  t.after(cleanup)
  return { ...w, dir, release: () => writeFileSync(join(dir, 'release'), '') }
}

async function groupStatus(w: WorkersGateway): Promise<GroupJson> {
  const status = (await (await fetch(`${w.admin}/status.json`)).json()) as { groups: GroupJson[] }
  return status.groups.find((g) => g.name === 'app')!
}

async function metricsText(w: WorkersGateway): Promise<string> {
  return (await fetch(`${w.admin}/metrics`)).text()
}

/** The worker (its pid) that wrote the access line of `url`. */
async function workerOf(w: WorkersGateway, url: string): Promise<number> {
  await until(`the access line of ${url}`, () => w.workerLines.some((l) => l.msg === 'access' && l.url === url))
  return w.workerLines.find((l) => l.msg === 'access' && l.url === url)!.pid as number
}

/** A GET on the one keep-alive connection of `agent` (so on the worker that connection went to). */
function getOn(w: WorkersGateway, agent: Agent, path: string): Promise<TextResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: w.port, path, agent }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (text += c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }))
    })
    req.on('error', reject)
    req.end()
  })
}

test('with workers: 2 the status page and /metrics show the requests in flight and waiting on both workers, and 0 once they are over', async (t) => {
  // Each worker may send the process ceil(4 / 2) = 2 requests at once: of 6, 4 are in flight and 2 wait.
  const w = await startGroup(t, { concurrency: 4, queueTimeout: '30s' })
  const [daemon] = w.gw.supervisor!.status()[0]!.processes.map((p) => p.pid) as [number]
  const hold = (name: string) => `/hold/${name}?file=${encodeURIComponent(join(w.dir, 'release'))}`
  const held = Array.from({ length: 6 }, (_, i) => httpGet(w.port, hold(`n${i}`)))

  await until('all 6 requests to reach the workers', async () => {
    const g = await groupStatus(w)
    return g.queued + (g.processes[0]?.inflight ?? 0) === 6
  })
  const g = await groupStatus(w)
  assert.equal(g.queued, 2)
  assert.deepEqual(
    g.processes.map((p) => [p.pid, p.inflight]),
    [[daemon, 4]],
  )
  const html = await (await fetch(`${w.admin}/status`)).text()
  assert.match(html, new RegExp(`<tr><td>${daemon}</td><td class="l ready">ready</td><td>4</td>`))
  assert.match(html, /<span class="counts">queued 2 · /)
  const during = await metricsText(w)
  assert.match(during, /^gatehouse_group_requests_in_flight\{group="app"\} 4$/m)
  assert.match(during, /^gatehouse_group_queued_requests\{group="app"\} 2$/m)
  assert.match(during, /^gatehouse_group_processes_busy\{group="app"\} 1$/m)

  w.release()
  for (const r of await Promise.all(held)) assert.deepEqual([r.status, r.text], [200, `held ${daemon}`])
  const servers = new Set(await Promise.all(Array.from({ length: 6 }, (_, i) => workerOf(w, `/hold/n${i}?…`))))
  assert.equal(servers.size, 2, 'both workers held requests')

  const after = await groupStatus(w)
  assert.equal(after.queued, 0)
  assert.deepEqual(
    after.processes.map((p) => [p.pid, p.inflight]),
    [[daemon, 0]],
  )
  const done = await metricsText(w)
  assert.match(done, /^gatehouse_group_requests_in_flight\{group="app"\} 0$/m)
  assert.match(done, /^gatehouse_group_queued_requests\{group="app"\} 0$/m)
  assert.match(done, /^gatehouse_group_processes_busy\{group="app"\} 0$/m)
  assert.match(done, /^gatehouse_group_queue_waits_total\{group="app"\} 2$/m)
})

test('a worker whose data connection the daemon process closed connects to it again by itself; only the request in flight on that connection fails', async (t) => {
  const w = await startGroup(t, { concurrency: 4, queueTimeout: '5s' })
  const before = w.gw.supervisor!.status()[0]!
  const [daemon] = before.processes.map((p) => p.pid) as [number]
  let tableChanges = 0
  const onProcesses = (): void => void tableChanges++
  w.gw.supervisor!.on('processes', onProcesses)
  t.after(() => w.gw.supervisor!.off('processes', onProcesses))

  // Client connections, each kept on the worker it went to: two on one worker, one on the other.
  const agents = Array.from({ length: 4 }, () => new Agent({ keepAlive: true, maxSockets: 1 }))
  t.after(() => agents.forEach((a) => a.destroy()))
  const workerOfAgent: number[] = []
  for (const [i, agent] of agents.entries()) {
    assert.deepEqual(await getOn(w, agent, `/pid/agent${i}`).then((r) => [r.status, r.text]), [200, String(daemon)])
    workerOfAgent.push(await workerOf(w, `/pid/agent${i}`))
  }
  const cut = workerOfAgent[0]!
  const [holdAgent, dropAgent] = agents.filter((_, i) => workerOfAgent[i] === cut) as [Agent, Agent]
  const otherAgent = agents.find((_, i) => workerOfAgent[i] !== cut)!
  assert.ok(holdAgent && dropAgent && otherAgent, 'the workers took turns with the connections')

  const hold = (name: string) => `/hold/${name}?file=${encodeURIComponent(join(w.dir, 'release'))}`
  const heldOnCut = getOn(w, holdAgent, hold('cut'))
  const heldOnOther = getOn(w, otherAgent, hold('other'))
  await until('both held requests in flight', async () => (await groupStatus(w)).processes[0]?.inflight === 2)

  // The daemon process answers, then closes the data connection that carried the answer.
  assert.deepEqual(await getOn(w, dropAgent, '/drop').then((r) => [r.status, r.text]), [200, String(daemon)])
  assert.equal(await workerOf(w, '/drop'), cut)
  assert.equal((await heldOnCut).status, 502, 'the request in flight on the closed connection fails')
  w.release()
  assert.deepEqual(await heldOnOther.then((r) => [r.status, r.text]), [200, `held ${daemon}`])

  // No new table: the same process, and the worker that lost its connection serves on it again.
  for (let i = 0; i < 6; i++) {
    for (const [name, agent] of [
      ['a', holdAgent],
      ['b', dropAgent],
      ['c', otherAgent],
    ] as const) {
      const r = await getOn(w, agent, `/pid/after-${name}${i}`)
      assert.deepEqual([r.status, r.text], [200, String(daemon)], `/pid/after-${name}${i}`)
    }
  }
  const cutServed = w.workerLines.filter(
    (l) => l.msg === 'access' && String(l.url).startsWith('/pid/after-') && l.pid === cut,
  )
  // The /drop client's connection stays on that worker (its answer was whole); the one that got the 502 may not.
  assert.ok(cutServed.length >= 6, 'the worker that lost its connection served its clients')
  assert.ok(
    cutServed.every((l) => l.status === 200),
    'none of its requests failed',
  )
  assert.equal(tableChanges, 0, 'the primary sent no new process table')
  const now = w.gw.supervisor!.status()[0]!
  assert.deepEqual(
    [now.generation, now.restarts, now.processes.map((p) => p.pid)],
    [before.generation, before.restarts, [daemon]],
  )
  const reconnects = w.workerLines.filter((l) => l.msg === 'data connection to a daemon process closed; reconnecting')
  assert.deepEqual(
    reconnects.map((l) => l.pid),
    [cut],
  )
})

test('a worker started after the process table changed gets the current table and serves from the current processes', async (t) => {
  const w = await startGroup(t, { concurrency: 4 })
  const [old] = w.gw.supervisor!.status()[0]!.processes.map((p) => p.pid) as [number]
  assert.equal(await w.gw.supervisor!.reload('app', 'test'), true)
  const [current] = w.gw.supervisor!.status()[0]!.processes.map((p) => p.pid) as [number]
  assert.notEqual(current, old)

  const victim = w.gw.workers()[0]!
  process.kill(victim.pid, 'SIGKILL')
  await until(
    'a replacement worker',
    () => w.gw.workers().length === 2 && !w.gw.workers().some((x) => x.pid === victim.pid),
  )
  const replacement = w.gw.workers().find((x) => x.index === victim.index)!
  assert.ok(alive(replacement.pid))
  for (let i = 0; i < 6; i++) {
    const r = await httpGet(w.port, `/pid/late${i}`)
    assert.deepEqual([r.status, r.text], [200, String(current)])
  }
  await until('the replacement to serve', () =>
    w.workerLines.some((l) => l.msg === 'access' && l.pid === replacement.pid && l.status === 200),
  )
})
