/** Self-signed certificates made by the real openssl for TLS tests, with a chosen serial. */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'

export const haveOpenssl = spawnSync('openssl', ['version']).status === 0

/**
 * Writes `<name>.cert.pem` and `<name>.key.pem` into `dir` (CN=localhost, SAN 127.0.0.1) and
 * returns their paths. openssl runs synchronously: call it before a gateway in this process
 * listens, or use makeCertificateAsync.
 */
export function makeCertificate(dir: string, name: string, serial: number): { cert: string; key: string } {
  const cert = join(dir, `${name}.cert.pem`)
  const key = join(dir, `${name}.key.pem`)
  const r = spawnSync('openssl', certArgs(cert, key, serial), { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`)
  return { cert, key }
}

function certArgs(cert: string, key: string, serial: number): string[] {
  return [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-set_serial',
    String(serial),
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
    '-keyout',
    key,
    '-out',
    cert,
  ]
}
