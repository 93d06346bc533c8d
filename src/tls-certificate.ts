/**
 * The front's certificate and key, re-read while it runs: on SIGHUP and `gatehouse reload`, and
 * when the files change on disk (certbot renews by pointing the symlinks in its live/ directory
 * at new files, so the directories are watched, not the files). A pair that parses and matches
 * replaces the server's secure context: the next TLS handshake gets it, connections already open
 * keep theirs. A pair that does not is logged with its key path and the old one keeps serving.
 */
import { watch, readFileSync, type FSWatcher } from 'node:fs'
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { createSecureContext, type Server as TlsServer } from 'node:tls'
import { dirname } from 'node:path'
import type { Logger } from 'pino'
import { errors, GatehouseError } from './errors.js'

export interface TlsFiles {
  cert: string
  key: string
}

export interface CertificatePair {
  cert: Buffer
  key: Buffer
  /** Serial number of the leaf certificate (hex), for logs and reload reports. */
  serial: string
  validTo: string
}

export type CertificateReload =
  | { outcome: 'replaced'; serial: string }
  | { outcome: 'unchanged'; serial: string }
  | { outcome: 'failed'; error: GatehouseError }

/** Reads and checks the pair; throws GH_ERR_TLS_CERTIFICATE naming `listen.tls.cert` or `listen.tls.key`. */
export function readCertificatePair(files: TlsFiles): CertificatePair {
  const cert = readOrFail('listen.tls.cert', files.cert)
  const key = readOrFail('listen.tls.key', files.key)
  let x509: X509Certificate
  try {
    x509 = new X509Certificate(cert)
  } catch (err) {
    throw errors.GH_ERR_TLS_CERTIFICATE('listen.tls.cert', `${files.cert} is not a PEM certificate (${message(err)})`, {
      cause: err,
    })
  }
  let privateKey: ReturnType<typeof createPrivateKey>
  try {
    privateKey = createPrivateKey(key)
  } catch (err) {
    throw errors.GH_ERR_TLS_CERTIFICATE(
      'listen.tls.key',
      `${files.key} is not an unencrypted PEM private key (${message(err)})`,
      { cause: err },
    )
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw errors.GH_ERR_TLS_CERTIFICATE('listen.tls.key', `${files.key} does not match the certificate ${files.cert}`)
  }
  try {
    // What the server will build from the pair: a chain file OpenSSL refuses is caught here, not in a handshake.
    createSecureContext({ cert, key })
  } catch (err) {
    throw errors.GH_ERR_TLS_CERTIFICATE('listen.tls.cert', `${files.cert} with ${files.key}: ${message(err)}`, {
      cause: err,
    })
  }
  return { cert, key, serial: x509.serialNumber, validTo: x509.validTo }
}

export class CertificateReloader {
  readonly #server: TlsServer
  readonly #files: TlsFiles
  readonly #log: Logger
  readonly #debounceMs: number
  readonly #watchers: FSWatcher[] = []
  #current: CertificatePair | undefined
  #timer: NodeJS.Timeout | undefined
  #closed = false

  /** `initial`: the pair the server was created with (compared against, so an untouched pair is not swapped). */
  constructor(
    server: TlsServer,
    files: TlsFiles,
    log: Logger,
    opts: { initial?: CertificatePair; debounceMs?: number } = {},
  ) {
    this.#server = server
    this.#files = files
    this.#log = log
    this.#current = opts.initial
    // certbot changes the certificate and the key one after the other: one reload once both are done.
    this.#debounceMs = opts.debounceMs ?? 250
  }

  /** Re-reads the pair now; swaps it in when it changed and is good. Never throws. */
  reload(reason: string): CertificateReload {
    let next: CertificatePair
    try {
      next = readCertificatePair(this.#files)
    } catch (err) {
      const error =
        err instanceof GatehouseError
          ? err
          : errors.GH_ERR_TLS_CERTIFICATE('listen.tls.cert', message(err), { cause: err })
      this.#log.error(
        { code: error.code, reason, serial: this.#current?.serial },
        `${error.message}; the current certificate keeps serving`,
      )
      return { outcome: 'failed', error }
    }
    const current = this.#current
    if (current !== undefined && current.cert.equals(next.cert) && current.key.equals(next.key))
      return { outcome: 'unchanged', serial: next.serial }
    this.#server.setSecureContext({ cert: next.cert, key: next.key })
    this.#current = next
    this.#log.info(
      { reason, serial: next.serial, validTo: next.validTo, previousSerial: current?.serial },
      'TLS certificate reloaded: new connections get it',
    )
    return { outcome: 'replaced', serial: next.serial }
  }

  /** Watches the directories of the certificate and the key; a change reloads (debounced). */
  watch(): void {
    for (const dir of new Set([dirname(this.#files.cert), dirname(this.#files.key)])) {
      try {
        // Not persistent: a watcher never keeps the process alive on its own.
        const w = watch(dir, { persistent: false }, () => this.#schedule())
        w.on('error', (err) =>
          this.#log.warn(
            { dir, err: message(err) },
            'TLS certificate directory watch failed; SIGHUP or `gatehouse reload` still re-read the certificate',
          ),
        )
        this.#watchers.push(w)
      } catch (err) {
        this.#log.warn(
          { dir, err: message(err) },
          'cannot watch the TLS certificate directory; SIGHUP or `gatehouse reload` still re-read the certificate',
        )
      }
    }
  }

  close(): void {
    this.#closed = true
    clearTimeout(this.#timer)
    for (const w of this.#watchers.splice(0)) w.close()
  }

  #schedule(): void {
    if (this.#closed) return
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      if (!this.#closed) this.reload('certificate files changed')
    }, this.#debounceMs)
    this.#timer.unref()
  }
}

function readOrFail(keyPath: string, file: string): Buffer {
  try {
    return readFileSync(file)
  } catch (err) {
    throw errors.GH_ERR_TLS_CERTIFICATE(keyPath, `cannot read ${file}: ${message(err)}`, { cause: err })
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
