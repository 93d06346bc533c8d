/**
 * The listener's certificate is re-read while the gateway runs: when certbot-style symlinks in
 * the certificate's directory are pointed at a renewed pair, the next new connection gets it
 * while an HTTP/2 session opened before keeps working on the old one; a replacement that does
 * not load or does not match is logged with its key path and the old certificate keeps serving;
 * `reload` (SIGHUP, `gatehouse reload`) re-reads it on an HTTP/1.1 TLS listener too. The served
 * certificate is read from a real TLS handshake (its serial), never from the gateway's state.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { X509Certificate } from 'node:crypto'
import { copyFileSync, mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer as createHttpsServer } from 'node:https'
import { connect as h2connect, type ClientHttp2Session } from 'node:http2'
import { connect as tlsConnect } from 'node:tls'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js'
import { haveOpenssl, makeCertificate } from '../helpers/tls-cert.js'
import { needs } from '../helpers/required-tool.js'
import { eventually } from '../fixtures/apps/harness.js'
import { createLogger } from '../../src/log.js'
import { CertificateReloader, readCertificatePair } from '../../src/tls-certificate.js'

const skip = needs(haveOpenssl, 'openssl is not installed (apt install openssl)')

const serialOf = (file: string): string => new X509Certificate(readFileSync(file)).serialNumber

/** The serial of the certificate a fresh TLS connection to `port` is served (ALPN as a browser offers it). */
function servedSerial(port: number, ca: Buffer[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca, ALPNProtocols: ['h2', 'http/1.1'] }, () => {
      const serial = socket.getPeerCertificate().serialNumber
      socket.end()
      resolve(serial)
    })
    socket.once('error', reject)
  })
}

/** Points the symlink `link` at `target` in one rename, as certbot updates its live/ directory. */
function pointAt(link: string, target: string): void {
  const tmp = `${link}.new`
  symlinkSync(target, tmp)
  renameSync(tmp, link)
}

function h2get(session: ClientHttp2Session, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'GET', ':path': path })
    let status = 0
    stream.on('response', (h) => {
      status = Number(h[':status'])
    })
    stream.on('error', reject)
    stream.resume()
    stream.on('end', () => resolve(status))
  })
}

describe('certificate renewal on a running HTTP/2 listener', { skip }, () => {
  let gw: TestGateway
  let upstream: EchoUpstream
  let cleanup: () => void
  let archive: Record<'first' | 'second', { cert: string; key: string }>
  let live: { cert: string; key: string }
  let ca: Buffer[]
  let session: ClientHttp2Session | undefined

  before(async () => {
    const t = tempDir('gh-cert-reload-')
    cleanup = t.cleanup
    mkdirSync(join(t.dir, 'archive'))
    mkdirSync(join(t.dir, 'live'))
    archive = {
      first: makeCertificate(join(t.dir, 'archive'), 'first', 1001),
      second: makeCertificate(join(t.dir, 'archive'), 'second', 2002),
    }
    ca = [readFileSync(archive.first.cert), readFileSync(archive.second.cert)]
    live = { cert: join(t.dir, 'live', 'fullchain.pem'), key: join(t.dir, 'live', 'privkey.pem') }
    symlinkSync(archive.first.cert, live.cert)
    symlinkSync(archive.first.key, live.key)
    upstream = await startEchoUpstream()
    gw = await startGateway(
      {
        listen: { host: '127.0.0.1', port: 0, http2: true, tls: live },
        routes: [{ path: '/open', upstream: upstream.url }],
      },
      t.dir,
    )
  })

  after(async () => {
    session?.close()
    await gw?.close()
    await upstream?.close()
    cleanup?.()
  })

  test('a renewed pair is served to the next new connection; an HTTP/2 session opened before keeps working', async () => {
    assert.equal(await servedSerial(gw.port, ca), serialOf(archive.first.cert))
    session = h2connect(`https://127.0.0.1:${gw.port}`, { ca })
    assert.equal(await h2get(session, '/open/before'), 200)

    pointAt(live.cert, archive.second.cert)
    pointAt(live.key, archive.second.key)
    const want = serialOf(archive.second.cert)
    await eventually(
      'the renewed certificate on a new connection',
      async () => (await servedSerial(gw.port, ca)) === want,
    )

    assert.equal(await h2get(session, '/open/after'), 200)
    assert.equal(
      (session.socket as unknown as { getPeerCertificate(): { serialNumber: string } }).getPeerCertificate()
        .serialNumber,
      serialOf(archive.first.cert),
    )
    assert.ok(!session.closed && !session.destroyed)
    assert.deepEqual(
      upstream.seen.map((s) => s.url),
      ['/open/before', '/open/after'],
    )
    assert.ok(gw.logs.some((l) => l.includes('TLS certificate reloaded') && l.includes(want)))
  })

  test('a key that does not match the certificate is logged naming listen.tls.key; the current pair keeps serving', async () => {
    const serving = await servedSerial(gw.port, ca)
    pointAt(live.key, archive.first.key)
    await eventually('the refused key logged', () =>
      gw.logs.some(
        (l) => l.includes('GH_ERR_TLS_CERTIFICATE') && l.includes('listen.tls.key') && l.includes('does not match'),
      ),
    )
    assert.equal(await servedSerial(gw.port, ca), serving)
    const result = await gw.gw.reload('test')
    assert.equal(result.ok, false)
    assert.match(
      result.summary,
      /listen\.tls\.key: .* does not match the certificate .*the current certificate keeps serving/,
    )
    assert.equal(await servedSerial(gw.port, ca), serving)
    pointAt(live.key, archive.second.key)
  })

  test('an unparsable certificate is logged naming listen.tls.cert; the current pair keeps serving', async () => {
    const serving = await servedSerial(gw.port, ca)
    const broken = join(gw.dir, 'archive', 'broken.pem')
    writeFileSync(broken, '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n')
    pointAt(live.cert, broken)
    await eventually('the refused certificate logged', () =>
      gw.logs.some(
        (l) =>
          l.includes('GH_ERR_TLS_CERTIFICATE') &&
          l.includes('listen.tls.cert') &&
          l.includes('is not a PEM certificate'),
      ),
    )
    assert.equal(await servedSerial(gw.port, ca), serving)
    assert.ok(!gw.logs.some((l) => l.includes('BEGIN') || l.includes('PRIVATE KEY')))
  })
})

describe('certificate reload on an HTTP/1.1 TLS listener', { skip }, () => {
  let gw: TestGateway
  let upstream: EchoUpstream
  let cleanup: () => void
  let pairs: Record<'first' | 'second', { cert: string; key: string }>
  let ca: Buffer[]

  before(async () => {
    const t = tempDir('gh-cert-reload-h1-')
    cleanup = t.cleanup
    mkdirSync(join(t.dir, 'made'))
    pairs = {
      first: makeCertificate(join(t.dir, 'made'), 'first', 3003),
      second: makeCertificate(join(t.dir, 'made'), 'second', 4004),
    }
    ca = [readFileSync(pairs.first.cert), readFileSync(pairs.second.cert)]
    mkdirSync(join(t.dir, 'tls'))
    copyFileSync(pairs.first.cert, join(t.dir, 'tls', 'cert.pem'))
    copyFileSync(pairs.first.key, join(t.dir, 'tls', 'key.pem'))
    upstream = await startEchoUpstream()
    gw = await startGateway(
      {
        listen: { host: '127.0.0.1', port: 0, tls: { cert: './tls/cert.pem', key: './tls/key.pem' } },
        routes: [{ path: '/open', upstream: upstream.url }],
      },
      t.dir,
    )
  })

  after(async () => {
    await gw?.close()
    await upstream?.close()
    cleanup?.()
  })

  test('after the files are copied over and the gateway reloads, new connections get the new certificate', async () => {
    assert.equal(await servedSerial(gw.port, ca), serialOf(pairs.first.cert))
    copyFileSync(pairs.second.key, join(gw.dir, 'tls', 'key.pem'))
    copyFileSync(pairs.second.cert, join(gw.dir, 'tls', 'cert.pem'))
    await gw.gw.reload('SIGHUP')
    assert.equal(await servedSerial(gw.port, ca), serialOf(pairs.second.cert))
  })
})

describe('CertificateReloader.reload()', { skip }, () => {
  test('swaps a good pair into the server, and keeps the old one for a pair that does not load', async (t) => {
    const dir = tempDir('gh-cert-reloader-')
    t.after(dir.cleanup)
    const a = makeCertificate(dir.dir, 'a', 5005)
    const b = makeCertificate(dir.dir, 'b', 6006)
    const files = { cert: join(dir.dir, 'cert.pem'), key: join(dir.dir, 'key.pem') }
    copyFileSync(a.cert, files.cert)
    copyFileSync(a.key, files.key)
    const initial = readCertificatePair(files)
    const server = createHttpsServer({ cert: initial.cert, key: initial.key }, (_req, res) => res.end('ok'))
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    t.after(() => new Promise<void>((r) => server.close(() => r())))
    const port = (server.address() as AddressInfo).port
    const logs: string[] = []
    const log = createLogger(
      'info',
      new Writable({
        write(c, _e, cb) {
          logs.push(String(c))
          cb()
        },
      }),
    )
    // No watch(): only an explicit reload may change what is served here.
    const reloader = new CertificateReloader(server, files, log, { initial })
    const ca = [readFileSync(a.cert), readFileSync(b.cert)]

    assert.deepEqual(reloader.reload('unchanged files'), { outcome: 'unchanged', serial: serialOf(a.cert) })
    copyFileSync(b.cert, files.cert)
    assert.equal(await servedSerial(port, ca), serialOf(a.cert))
    const mismatched = reloader.reload('new certificate, old key')
    assert.equal(mismatched.outcome, 'failed')
    assert.match(
      mismatched.outcome === 'failed' ? mismatched.error.message : '',
      /^listen\.tls\.key: .* does not match the certificate/,
    )
    assert.equal(await servedSerial(port, ca), serialOf(a.cert))
    copyFileSync(b.key, files.key)
    assert.deepEqual(reloader.reload('renewed'), { outcome: 'replaced', serial: serialOf(b.cert) })
    assert.equal(await servedSerial(port, ca), serialOf(b.cert))
    assert.ok(logs.some((l) => l.includes('"reason":"new certificate, old key"') && l.includes('listen.tls.key')))
  })
})
