/**
 * What the benchmark measures, one entry per row. Each scenario runs one load against one of
 * the servers; its ratio is to the bare Fastify figure,
 * and `alsoAgainst` names another row it is compared with too. The slow-logins rows are in
 * bench/lib/slow-load.ts; the provider round trip is a section of its own (bench/provider-call.ts).
 * Peer rows (bench/lib/peers.ts) measure Caddy and Apache + mod_wsgi in the same run; `peerPairs`
 * says which gatehouse row each is held against.
 */
import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runLoad, type LoadResult } from './lib/load.js'
import { TSX_ARGS, resolveJson } from './lib/processes.js'
import { withSlowLogins } from './lib/slow-load.js'
import { PEER_BASIC, type Peer, type PeerName } from './lib/peers.js'
import { formSessionCookie } from './lib/form-session.js'

export interface Servers {
  bare: string
  upstream: string
  front: string
  /** The same front with `workers: 2` (and its state in the primary), and with `state.redis` too; when their rows run. */
  frontW2?: string
  frontW2Redis?: string
  /** Bare Fastify under node:cluster with 1 and 2 workers (bench/servers/bare-cluster.ts); when their rows run. */
  bareW1?: string
  bareW2?: string
  floor: string
  /** node:http + undici to the upstream, nothing else (bench/servers/proxy-floor.ts). */
  proxyFloor: string
  /** node:http + gatehouse's HTTP/1.1 client to the upstream, nothing else (bench/servers/proxy-floor-raw.ts). */
  proxyFloorRaw: string
  pids: {
    bare: number
    upstream: number
    front: number
    /** The front's processes: the gatehouse process and, with --workers, its workers. */
    fronts: number[]
    frontW2: number[]
    frontW2Redis: number[]
    /** The daemon processes of the workers: 2 fronts (each supervises its own groups). */
    frontW2Daemons: number[]
    frontW2RedisDaemons: number[]
    /** The bare cluster's primary, then its workers. */
    bareW1: number[]
    bareW2: number[]
    daemons: number[]
    floor: number
    floorDaemon: number
    proxyFloor: number
    proxyFloorRaw: number
  }
  /** The peers that started in this run. */
  peers: Partial<Record<PeerName, Peer>>
}

export interface RunContext {
  servers: Servers
  seconds: number
  connections: number
}

export interface Scenario {
  name: string
  label: string
  /** The process that answers, whose CPU time per request is reported. */
  server:
    | 'bare'
    | 'upstream'
    | 'front'
    | 'frontW2'
    | 'frontW2Redis'
    | 'bareW1'
    | 'bareW2'
    | 'floor'
    | 'proxyFloor'
    | 'proxyFloorRaw'
    | 'peer'
  /** For `server: 'peer'`: which one (the row is left out when it is not installed). */
  peer?: PeerName
  /** Another row this one is also compared with (printed after the errors column). */
  alsoAgainst?: string
  /** false: no warm-up run before the measured one (a run that is costly to set up and tear down). */
  warmup?: boolean
  run(ctx: RunContext): Promise<LoadResult>
}

const BASIC = { authorization: `Basic ${Buffer.from('bench:bench').toString('base64')}` }
const HERE = dirname(fileURLToPath(import.meta.url))

const front = (ctx: RunContext, path: string): string => new URL(path, ctx.servers.front).href
const peer = (ctx: RunContext, name: PeerName, path: string): string =>
  new URL(path, (ctx.servers.peers[name] as Peer).url).href

/** The Digest row's requests/s in the current round (0 before it ran: then the Basic row is not paced). */
let lastDigestRps = 0

export const scenarios: Scenario[] = [
  { name: 'bare', server: 'bare', label: 'bare Fastify hello', run: (c) => runLoad({ ...c, url: c.servers.bare }) },
  {
    name: 'upstream-direct',
    server: 'upstream',
    label: 'node:http upstream hello, direct',
    run: (c) => runLoad({ ...c, url: c.servers.upstream }),
  },
  {
    name: 'upstream-basic',
    server: 'front',
    label: 'gatehouse → upstream, Basic (cache hit)',
    alsoAgainst: 'upstream-direct',
    run: (c) => runLoad({ ...c, url: front(c, '/up'), headers: BASIC }),
  },
  // What one Node event loop proxying to the upstream costs here, before any gatehouse work: the ceiling of the row above.
  {
    name: 'upstream-floor',
    server: 'proxyFloor',
    label: 'proxy floor: node:http → undici → upstream, nothing else',
    alsoAgainst: 'upstream-direct',
    run: (c) => runLoad({ ...c, url: c.servers.proxyFloor }),
  },
  // The same with the upstream client the front's fast path uses: the ceiling of upstream-basic.
  {
    name: 'upstream-floor-raw',
    server: 'proxyFloorRaw',
    label: 'proxy floor: node:http → gatehouse HTTP/1.1 client → upstream',
    alsoAgainst: 'upstream-direct',
    run: (c) => runLoad({ ...c, url: c.servers.proxyFloorRaw }),
  },
  // What any front + daemon design costs here (bench/servers/floor.ts): the ceiling of the group rows.
  {
    name: 'floor',
    server: 'floor',
    label: 'two-process floor (node:http ↔ unix socket ↔ daemon, no work)',
    run: (c) => runLoad({ ...c, url: c.servers.floor }),
  },
  {
    name: 'group',
    server: 'front',
    label: 'gatehouse → daemon group, no auth',
    run: (c) => runLoad({ ...c, url: front(c, '/group') }),
  },
  {
    name: 'group-basic',
    server: 'front',
    label: 'gatehouse → daemon group, Basic (cache hit)',
    run: (c) => runLoad({ ...c, url: front(c, '/group-basic'), headers: BASIC }),
  },
  {
    name: 'group-basic-miss',
    server: 'front',
    label: 'gatehouse → daemon group, Basic (cache miss, cheap provider)',
    alsoAgainst: 'group-basic',
    run: (c) => runLoad({ ...c, url: front(c, '/group-basic-miss'), headers: BASIC }),
  },
  {
    name: 'group-form',
    server: 'front',
    label: 'gatehouse → daemon group, form login (session cookie)',
    alsoAgainst: 'group-basic',
    run: async (c) =>
      runLoad({
        ...c,
        url: front(c, '/group-form/'),
        headers: { cookie: await formSessionCookie(c.servers.front, '/group-form/', 'bench', 'bench') },
      }),
  },
  {
    name: 'group-digest',
    server: 'front',
    label: 'gatehouse → daemon group, Digest SHA-256 (node client)',
    run: async (c) => {
      const r = await digestLoad(front(c, '/group-digest'), c)
      lastDigestRps = r.rps
      return r
    },
  },
  // The same node client on the Basic route, paced to the Digest row's rate of the same round:
  // the front's CPU per request of the two schemes, like for like (same client, same load).
  {
    name: 'group-basic-node',
    server: 'front',
    label: "gatehouse → group, Basic (cache hit), node client at Digest's rate",
    run: (c) => digestLoad(front(c, '/group-basic'), c, 'basic', lastDigestRps),
  },
  // The ceiling of workers: 2 against workers: 1 on this machine, same run: bare Fastify under node:cluster.
  {
    name: 'bare-w1',
    server: 'bareW1',
    label: 'bare Fastify hello, node:cluster, 1 worker',
    run: (c) => runLoad({ ...c, url: c.servers.bareW1 as string }),
  },
  {
    name: 'bare-w2',
    server: 'bareW2',
    label: 'bare Fastify hello, node:cluster, 2 workers',
    alsoAgainst: 'bare-w1',
    run: (c) => runLoad({ ...c, url: c.servers.bareW2 as string }),
  },
  // workers: 2 against workers: 1 (the rows above), and the state in the primary against Redis.
  {
    name: 'group-basic-w2',
    server: 'frontW2',
    label: 'workers: 2 → daemon group, Basic (cache hit)',
    alsoAgainst: 'group-basic',
    run: (c) => runLoad({ ...c, url: new URL('/group-basic', c.servers.frontW2).href, headers: BASIC }),
  },
  {
    name: 'upstream-basic-w2',
    server: 'frontW2',
    label: 'workers: 2 → upstream, Basic (cache hit)',
    alsoAgainst: 'upstream-basic',
    run: (c) => runLoad({ ...c, url: new URL('/up', c.servers.frontW2).href, headers: BASIC }),
  },
  {
    name: 'group-digest-w2',
    server: 'frontW2',
    label: 'workers: 2 → daemon group, Digest SHA-256, state in the primary',
    alsoAgainst: 'group-digest',
    run: (c) => digestLoad(new URL('/group-digest', c.servers.frontW2).href, c),
  },
  {
    name: 'group-digest-w2-redis',
    server: 'frontW2Redis',
    label: 'workers: 2 → daemon group, Digest SHA-256, state in Redis',
    alsoAgainst: 'group-digest-w2',
    run: (c) => digestLoad(new URL('/group-digest', c.servers.frontW2Redis).href, c),
  },
  // Last: the logins still queued when it ends keep the front's provider threads busy until
  // they drain (withSlowLogins waits for that, so the next run starts on a quiet front).
  {
    name: 'group-basic-slow',
    server: 'front',
    label: 'gatehouse → daemon group, Basic (cache hit), 100 slow logins',
    alsoAgainst: 'group-basic',
    warmup: false,
    run: (c) =>
      withSlowLogins({ url: front(c, '/slow'), quietPids: [c.servers.pids.front] }, () =>
        runLoad({ ...c, url: front(c, '/group-basic'), headers: BASIC }),
      ),
  },
  // The same with the logins answered by a daemon group's provider (scrypt in the group's
  // process, the demo's shape): not paced by shareWhenBusy, which is for provider threads.
  {
    name: 'group-basic-slow-group',
    server: 'front',
    label: 'gatehouse → daemon group, Basic (cache hit), 100 slow group logins',
    alsoAgainst: 'group-basic',
    warmup: false,
    run: (c) =>
      withSlowLogins(
        { url: front(c, '/slow-group'), quietPids: [c.servers.pids.front, ...c.servers.pids.daemons] },
        () => runLoad({ ...c, url: front(c, '/group-basic'), headers: BASIC }),
      ),
  },
  // A Python WSGI group running the Apache peer's hello.wsgi, with its auth.wsgi as the provider.
  {
    name: 'py-hello',
    server: 'front',
    label: 'gatehouse → Python WSGI group, no auth',
    run: (c) => runLoad({ ...c, url: front(c, '/py/') }),
  },
  {
    name: 'py-basic',
    server: 'front',
    label: 'gatehouse → Python WSGI group, Basic (cache hit)',
    run: (c) => runLoad({ ...c, url: front(c, '/py-basic/'), headers: PEER_BASIC }),
  },
  {
    name: 'py-basic-miss',
    server: 'front',
    label: 'gatehouse → Python WSGI group, Basic (cache off, auth script)',
    alsoAgainst: 'py-basic',
    run: (c) => runLoad({ ...c, url: front(c, '/py-basic-miss/'), headers: PEER_BASIC }),
  },
  {
    name: 'peer-caddy-basic',
    server: 'peer',
    peer: 'caddy',
    label: 'peer: Caddy basicauth → upstream (bcrypt, cached)',
    run: (c) => runLoad({ ...c, url: peer(c, 'caddy', '/'), headers: PEER_BASIC }),
  },
  {
    name: 'peer-apache-hello',
    server: 'peer',
    peer: 'apache',
    label: 'peer: Apache + mod_wsgi daemon, WSGI hello, no auth',
    run: (c) => runLoad({ ...c, url: peer(c, 'apache', '/hello/') }),
  },
  {
    name: 'peer-apache-basic',
    server: 'peer',
    peer: 'apache',
    label: 'peer: Apache + mod_wsgi daemon, Basic via auth script',
    run: (c) => runLoad({ ...c, url: peer(c, 'apache', '/basic/'), headers: PEER_BASIC }),
  },
]

/**
 * gatehouse row ÷ peer row, printed under the table. The Python rows run the Apache peer's own
 * hello.wsgi and auth.wsgi (like for like); the Node group rows are held against Apache too, as
 * the same shape (a front and supervised daemon processes) in another language.
 */
export const peerPairs: Array<{ ours: string; theirs: string; what: string }> = [
  { ours: 'upstream-basic', theirs: 'peer-caddy-basic', what: 'Basic in front of an HTTP upstream, cached check' },
  {
    ours: 'upstream-basic-w2',
    theirs: 'peer-caddy-basic',
    what: 'the same, workers: 2 (Caddy uses every CPU too)',
  },
  { ours: 'py-hello', theirs: 'peer-apache-hello', what: 'WSGI hello, no auth' },
  {
    ours: 'py-basic',
    theirs: 'peer-apache-basic',
    what: 'WSGI hello, Basic (gatehouse: cache hit; Apache: the script each time; target ≥ 2)',
  },
  {
    ours: 'py-basic-miss',
    theirs: 'peer-apache-basic',
    what: 'WSGI hello, Basic, the auth script each request (target ≥ 1.2)',
  },
  { ours: 'group', theirs: 'peer-apache-hello', what: 'Node group hello vs WSGI hello under Apache, no auth' },
  {
    ours: 'group-basic',
    theirs: 'peer-apache-basic',
    what: 'Node group hello, Basic cache hit vs Apache with the script',
  },
]

/**
 * `workers: 2` ÷ `workers: 1`, printed under the table when both rows of a pair ran: gatehouse's
 * scaling next to bare Fastify's under node:cluster in the same run (the ceiling here).
 */
export const scalePairs: Array<{ w2: string; w1: string; what: string }> = [
  { w2: 'bare-w2', w1: 'bare-w1', what: 'bare Fastify hello under node:cluster (the ceiling)' },
  { w2: 'group-basic-w2', w1: 'group-basic', what: 'gatehouse → daemon group, Basic (cache hit)' },
  { w2: 'upstream-basic-w2', w1: 'upstream-basic', what: 'gatehouse → upstream, Basic (cache hit)' },
  { w2: 'group-digest-w2', w1: 'group-digest', what: 'gatehouse → daemon group, Digest, state in the primary' },
]

/** Digest needs a client computing each request: bench/lib/digest-client.ts, in its own process. */
function digestLoad(
  url: string,
  ctx: RunContext,
  scheme: 'digest' | 'basic' = 'digest',
  rate = 0,
): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        ...TSX_ARGS,
        join(HERE, 'lib', 'digest-client.ts'),
        url,
        String(ctx.seconds),
        String(ctx.connections),
        'bench',
        'bench',
        scheme,
        String(Math.floor(rate)),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    let out = ''
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString()
    })
    const timer = setTimeout(() => process.kill(child.pid as number, 'SIGKILL'), (ctx.seconds + 30) * 1000)
    child.once('error', reject)
    child.once('exit', (code) => {
      clearTimeout(timer)
      if (code !== 0) return reject(new Error(`digest client exited with ${code}`))
      resolveJson<Omit<LoadResult, 'tool'>>(
        out,
        'digest client',
        (r) => resolve({ tool: 'digest-client', ...r }),
        reject,
      )
    })
  })
}
