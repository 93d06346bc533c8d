/**
 * The systems gatehouse is measured against, started in the same run on loopback by the
 * harnesses in bench/peers/: Caddy (basicauth with its own bcrypt result cache, in front of the
 * bench's node:http upstream) and Apache 2.4 + mod_wsgi in daemon mode (processes=2 threads=15,
 * a WSGI hello world, AuthBasicProvider wsgi with a trivial auth script, no credential cache).
 * A peer whose Debian packages are missing is left out with a note, never faked.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const PEERS = join(dirname(fileURLToPath(import.meta.url)), '..', 'peers')

export type PeerName = 'caddy' | 'apache'

export interface Peer {
  name: PeerName
  url: string
  runDir: string
  /** The peer's first process (its pid file); its workers are found under it at measuring time. */
  pid: number
}

export interface Peers {
  running: Partial<Record<PeerName, Peer>>
  /** Why a peer is not in this run. */
  missing: string[]
}

/** Both peers' credentials (bench/peers/*): alice / "correct horse". */
export const PEER_BASIC = { authorization: `Basic ${Buffer.from('alice:correct horse').toString('base64')}` }

export async function startPeers(upstreamUrl: string, wanted: readonly PeerName[]): Promise<Peers> {
  const peers: Peers = { running: {}, missing: [] }
  for (const name of wanted) {
    const why = unavailable(name)
    if (why !== undefined) {
      peers.missing.push(`${name}: ${why}`)
      continue
    }
    const port = await freePort()
    // A directory of its own under the system's tmpdir: Apache's children run as www-data when
    // started as root and must reach their mod_wsgi sockets there (the bench's work dir is 0700).
    const runDir = mkdtempSync(join(tmpdir(), `gh-peer-${name}-`))
    const args = name === 'caddy' ? [String(port), new URL(upstreamUrl).port, runDir] : [String(port), runDir]
    try {
      execFileSync(join(PEERS, name === 'caddy' ? 'caddy' : 'apache-modwsgi', 'run.sh'), args, {
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout: 30_000,
      })
    } catch (err) {
      peers.missing.push(
        `${name}: did not start (${(err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message})`,
      )
      rmSync(runDir, { recursive: true, force: true })
      continue
    }
    const pidFile = join(runDir, name === 'caddy' ? 'caddy.pid' : 'httpd.pid')
    const peer: Peer = {
      name,
      url: `http://127.0.0.1:${port}`,
      runDir,
      pid: Number(readFileSync(pidFile, 'utf8').trim()),
    }
    peers.running[name] = peer
    // Caddy's first check is a bcrypt at cost 14 (about a second here), then cached: one login
    // before the load, or 32 connections would all start with that hash at once.
    if (name === 'caddy')
      await fetch(peer.url, { headers: PEER_BASIC, signal: AbortSignal.timeout(30_000) }).then((r) => r.arrayBuffer())
  }
  return peers
}

export function stopPeers(peers: Peers): void {
  for (const p of Object.values(peers.running)) {
    try {
      execFileSync(join(PEERS, p.name === 'caddy' ? 'caddy' : 'apache-modwsgi', 'stop.sh'), [p.runDir], {
        stdio: 'ignore',
        timeout: 20_000,
      })
    } catch {
      /* already gone */
    }
    rmSync(p.runDir, { recursive: true, force: true })
  }
  peers.running = {}
}

/** `pid` and every process below it (Apache's children and its mod_wsgi daemons). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      const list = children.get(ppid) ?? []
      list.push(Number(entry))
      children.set(ppid, list)
    } catch {
      /* exited meanwhile */
    }
  }
  const out: number[] = []
  const walk = (p: number): void => {
    out.push(p)
    for (const c of children.get(p) ?? []) walk(c)
  }
  walk(pid)
  return out
}

function unavailable(name: PeerName): string | undefined {
  if (name === 'caddy') return hasCommand('caddy') ? undefined : "Debian's caddy is not installed"
  return existsSync('/usr/sbin/apache2') && existsSync('/usr/lib/apache2/modules/mod_wsgi.so')
    ? undefined
    : "Debian's apache2 and libapache2-mod-wsgi-py3 are not installed"
}

function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}
