/**
 * The auth decision alone, in this process: CPU µs per request of verifyThrottled (the front's
 * whole credential check, throttle included) for Digest SHA-256 (a fresh nc each request, the
 * HA1 cached) and for Basic (cache hit), on the bench's provider. No sockets, so other load on
 * the machine moves it far less than the HTTP rows; medians of 3 runs of 20000 each.
 *   node --import tsx bench/auth-path.ts [ROOT]     ROOT: a gatehouse checkout (default: this one)
 */
import { createHash, randomBytes } from 'node:crypto'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
const root: string = process.argv[2] ?? fileURLToPath(new URL('..', import.meta.url))
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the modules of another checkout, untyped by design
const imp = (p: string): Promise<any> => import(pathToFileURL(`${root}/src/${p}`).href)
const { parseConfig } = await imp('config/parse.ts')
const { NonceManager } = await imp('auth/nonce.ts')
const { CredentialCache } = await imp('auth/credential-cache.ts')
const { makePolicy } = await imp('auth/policy.ts')
const { verifyThrottled } = await imp('auth/throttle-gate.ts')
const { loginThrottleFrom } = await imp('auth/throttle.ts')
const { TrustedProxies } = await imp('proxy/trusted-proxies.ts')
const dir = mkdtempSync(join(tmpdir(), 'gh-auth-path-'))
const cfg = parseConfig(
  {
    listen: { host: '127.0.0.1', port: 0 },
    providers: { mem: { type: 'module', module: fileURLToPath(new URL('apps/provider.mjs', import.meta.url)) } },
    routes: [
      {
        path: '/d',
        upstream: 'http://127.0.0.1:1',
        auth: { scheme: 'digest', realm: 'Bench', provider: 'mem', algorithms: ['SHA-256'] },
      },
      { path: '/b', upstream: 'http://127.0.0.1:1', auth: { scheme: 'basic', realm: 'Bench', provider: 'mem' } },
    ],
    digest: { secret: 'bench-digest-secret-0123456789' },
  },
  { baseDir: dir },
)
const ha1: string = createHash('sha256').update('bench:Bench:bench').digest('hex')
const provider = {
  async getRealmHash() {
    return ha1
  },
  async checkPassword(_c: unknown, u: string, p: string) {
    return u === 'bench' && p === 'bench'
  },
  async groupsForUser() {
    return []
  },
}
const chain = [{ name: 'mem', provider }]
const [dRoute, bRoute] = cfg.routes as Array<{ auth: unknown }>
const dPol = makePolicy(dRoute.auth, chain),
  bPol = makePolicy(bRoute.auth, chain)
const deps = {
  nonces: new NonceManager({ secret: 'bench-digest-secret-0123456789' }),
  identities: new CredentialCache({ maxEntries: 1000, ttlMs: 600000 }),
  realmHashes: new CredentialCache({ maxEntries: 1000, ttlMs: 600000 }),
  throttle: { throttle: loginThrottleFrom(cfg.throttle), trustedProxies: new TrustedProxies(cfg.trustedProxies) },
}
const nonce = deps.nonces.issue('Bench'),
  opaque = deps.nonces.opaque('Bench')
const H = (s: string): string => createHash('sha256').update(s).digest('hex')
let nc = 0
const ha2 = H('GET:/d/x')
function digestHeader(): string {
  const ncHex = (++nc).toString(16).padStart(8, '0')
  const cnonce = randomBytes(8).toString('hex')
  const r = H(`${ha1}:${nonce}:${ncHex}:${cnonce}:auth:${ha2}`)
  return `Digest username="bench", realm="Bench", nonce="${nonce}", uri="/d/x", algorithm=SHA-256, qop=auth, nc=${ncHex}, cnonce="${cnonce}", response="${r}", opaque="${opaque}"`
}
const req = (url: string, credentials: string): object => ({
  method: 'GET',
  url,
  host: '127.0.0.1',
  credentials,
  remoteAddress: '127.0.0.1',
  get ctx() {
    return {
      method: 'GET',
      path: url,
      host: '127.0.0.1',
      remoteAddress: '127.0.0.1',
      route: '/',
      realm: 'Bench',
      headers: {},
    }
  },
})
const basic = 'Basic ' + Buffer.from('bench:bench').toString('base64')
const N = 20000
const headers = Array.from({ length: 3 * N + 2000 }, digestHeader)
let hi = 0
async function run(kind: 'digest' | 'basic', n: number): Promise<number> {
  const t = process.cpuUsage()
  for (let i = 0; i < n; i++) {
    const o =
      kind === 'digest'
        ? await verifyThrottled(dPol, req('/d/x', headers[hi++]), deps)
        : await verifyThrottled(bPol, req('/b/x', basic), deps)
    if (o.kind !== 'ok') throw new Error(`${kind}: ${JSON.stringify(o)}`)
  }
  const u = process.cpuUsage(t)
  return (u.user + u.system) / n
}
await run('digest', 1000)
await run('basic', 1000)
const res: Record<'digest' | 'basic', number[]> = { digest: [], basic: [] }
for (let r = 0; r < 3; r++) {
  res.digest.push(await run('digest', N))
  res.basic.push(await run('basic', N))
}
const med = (a: number[]): number => a.sort((x, y) => x - y)[1]
rmSync(dir, { recursive: true, force: true })
const d = med(res.digest)
const b = med(res.basic)
process.stdout.write(
  `${root}: Digest SHA-256 ${d.toFixed(1)} µs, Basic (cache hit) ${b.toFixed(1)} µs per auth decision (Digest − Basic ${(d - b).toFixed(1)} µs)\n`,
)
