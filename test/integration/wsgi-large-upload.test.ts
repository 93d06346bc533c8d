/**
 * A 1 GiB upload through the front to a Python WSGI app, as it arrives: chunked (no
 * Content-Length) and with a Content-Length. The front runs in a process of its own, the app
 * (fixtures/wsgi/upload_digest.py) reads wsgi.input 64 KiB at a time and answers the byte count
 * and SHA-256, which the test computes itself with node:crypto as it sends. The body is made on
 * the fly (no file) and never held whole anywhere: the peak resident memory (VmHWM) of the
 * Python worker and of the front stays bounded. A memory bound, not a timing threshold.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { tempDir } from '../helpers/gateway.js'
import { startFrontProcess, type FrontProcess } from '../helpers/front-process.js'
import { PYTHON, requirePython, skipWithoutPython } from '../helpers/python.js'

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'wsgi', 'upload_digest.py')
const GIB = 1024 * 1024 * 1024
const BLOCK = 1024 * 1024
/** Peak memory a process may reach while 1 GiB goes through it (it holds a few MiB of window). */
const WORKER_PEAK_LIMIT = 200 * 1024 * 1024
/** The front's growth over its resident memory before the upload, at its peak. */
const FRONT_GROWTH_LIMIT = 100 * 1024 * 1024

interface Upload {
  status: number
  answer: { bytes: number; sha256: string; contentLength: string | null; transferEncoding: string | null }
  sent: number
  sha256: string
}

/** kB fields of /proc/PID/status, in bytes. */
function memory(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (m === null) throw new Error(`no ${field} in /proc/${pid}/status`)
  return Number(m[1]) * 1024
}

/** Starts the peak (VmHWM) over from the current resident size (proc(5): clear_refs, "5"). */
function resetPeak(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5')
}

/**
 * POSTs `total` bytes made block by block (random bytes with the block's number in its first 8
 * bytes, so no two blocks are alike), waiting for 'drain' so the client never buffers ahead.
 */
function upload(url: string, total: number, withLength: boolean): Promise<Upload> {
  const block = randomBytes(BLOCK)
  const hash = createHash('sha256')
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent: false,
        headers: {
          'content-type': 'application/octet-stream',
          ...(withLength ? { 'content-length': String(total) } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString()
          try {
            resolve({
              status: res.statusCode ?? 0,
              answer: JSON.parse(text) as Upload['answer'],
              sent,
              sha256: hash.digest('hex'),
            })
          } catch {
            reject(new Error(`status ${res.statusCode}: ${text.slice(0, 200)}`))
          }
        })
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    let sent = 0
    let n = 0
    const pump = (): void => {
      while (sent < total) {
        const piece = Buffer.from(block.subarray(0, Math.min(BLOCK, total - sent)))
        piece.writeBigUInt64BE(BigInt(n++), 0)
        hash.update(piece)
        sent += piece.length
        if (!req.write(piece)) return void req.once('drain', pump)
      }
      req.end()
    }
    pump()
  })
}

describe('a 1 GiB upload to a Python WSGI app', { skip: skipWithoutPython() }, () => {
  let front: FrontProcess
  let worker: number
  let cleanup: () => void

  before(async () => {
    requirePython()
    const t = tempDir('gh-wsgi-upload-')
    cleanup = t.cleanup
    copyFileSync(FIXTURE, join(t.dir, 'upload_digest.py'))
    front = await startFrontProcess(
      {
        log: { level: 'warn' },
        groups: { upload: { wsgi: 'upload_digest.py', python: PYTHON, processes: 1, threads: 2 } },
        routes: [{ path: '/upload', group: 'upload' }],
      },
      t.dir,
    )
    worker = (front.daemons.find((d) => d.group === 'upload') as { pid: number }).pid
  })

  after(async () => {
    await front?.stop()
    cleanup?.()
  })

  for (const withLength of [false, true]) {
    test(
      `${withLength ? 'with Content-Length' : 'chunked, no Content-Length'}: every byte reaches wsgi.input in order, and neither the worker nor the front holds the body`,
      { timeout: 240_000 },
      async () => {
        const frontBefore = memory(front.pid, 'VmRSS')
        resetPeak(front.pid)
        resetPeak(worker)
        const r = await upload(`${front.url}/upload/`, GIB, withLength)
        assert.equal(r.status, 200)
        assert.equal(r.sent, GIB)
        assert.equal(r.answer.bytes, GIB)
        assert.equal(r.answer.sha256, r.sha256)
        if (withLength) assert.equal(r.answer.contentLength, String(GIB))
        else {
          assert.equal(r.answer.contentLength, null)
          // Hop-by-hop: the front removed Transfer-Encoding; the worker saw the body end by END.
          assert.equal(r.answer.transferEncoding, null)
        }
        const workerPeak = memory(worker, 'VmHWM')
        const frontPeak = memory(front.pid, 'VmHWM')
        assert.ok(workerPeak < WORKER_PEAK_LIMIT, `Python worker peaked at ${(workerPeak / 2 ** 20).toFixed(1)} MiB`)
        assert.ok(
          frontPeak - frontBefore < FRONT_GROWTH_LIMIT,
          `front grew from ${(frontBefore / 2 ** 20).toFixed(1)} to a peak of ${(frontPeak / 2 ** 20).toFixed(1)} MiB`,
        )
        // The same worker served it (a process replaced mid-upload would have lost the body).
        assert.equal(front.daemons.find((d) => d.group === 'upload')?.pid, worker)
        process.stdout.write(
          `# ${withLength ? 'content-length' : 'chunked'}: worker peak ${(workerPeak / 2 ** 20).toFixed(1)} MiB, front ${(frontBefore / 2 ** 20).toFixed(1)} → peak ${(frontPeak / 2 ** 20).toFixed(1)} MiB\n`,
        )
      },
    )
  }
})
