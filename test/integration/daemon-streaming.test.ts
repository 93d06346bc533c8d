/**
 * Bodies stream through the IPC both ways under per-stream credit: a 1 GiB upload is hashed by
 * the app while the front's memory stays bounded, and an echo returns every byte in order.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { describe, test } from 'node:test'
import { groupConfig, readAll, startSupervisor } from '../fixtures/apps/harness.js'

const MiB = 1024 * 1024

/** `total` bytes of generated data, hashed as it is produced. */
function generated(total: number): { stream: Readable; digest: () => string } {
  const block = randomBytes(MiB)
  const hash = createHash('sha256')
  let produced = 0
  const stream = new Readable({
    read() {
      if (produced >= total) return void this.push(null)
      const chunk = Buffer.from(block.subarray(0, Math.min(MiB, total - produced)))
      chunk.writeUInt32BE(produced / MiB, 0)
      produced += chunk.length
      hash.update(chunk)
      this.push(chunk)
    },
  })
  return { stream, digest: () => hash.digest('hex') }
}

describe('streamed bodies', { skip: process.platform === 'win32' }, () => {
  test('a 1 GiB upload reaches the app whole while the front stays within +200 MB of memory', async (t) => {
    const sup = await startSupervisor(t, [groupConfig('upload')])
    const total = 1024 * MiB
    const body = generated(total)
    const baseline = process.memoryUsage().rss
    let peak = baseline
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss)
    }, 20)
    t.after(() => clearInterval(sampler))
    const res = await sup
      .group('upload')
      .request(
        { method: 'POST', url: '/upload', headers: { host: 'h', 'content-type': 'application/octet-stream' } },
        body.stream,
      )
    const result = JSON.parse((await readAll(res.body)).toString()) as { bytes: number; sha256: string; rss: number }
    clearInterval(sampler)
    assert.equal(res.status, 200)
    assert.equal(result.bytes, total)
    assert.equal(result.sha256, body.digest())
    assert.ok(peak - baseline < 200 * MiB, `front RSS grew by ${Math.round((peak - baseline) / MiB)} MiB`)
    assert.ok(result.rss < 400 * MiB, `daemon RSS ${Math.round(result.rss / MiB)} MiB`)
  })

  test('an echo returns every byte in order while both directions stream at once', async (t) => {
    const sup = await startSupervisor(t, [groupConfig('echo')])
    const body = generated(64 * MiB)
    const res = await sup.group('echo').request({ method: 'PUT', url: '/echo', headers: { host: 'h' } }, body.stream)
    assert.equal(res.status, 200)
    const hash = createHash('sha256')
    let bytes = 0
    for await (const chunk of res.body) {
      hash.update(chunk as Buffer)
      bytes += (chunk as Buffer).length
    }
    assert.equal(bytes, 64 * MiB)
    assert.equal(hash.digest('hex'), body.digest())
  })

  test('a slow reader of a large download holds the daemon back instead of filling the front', async (t) => {
    const sup = await startSupervisor(t, [groupConfig('download')])
    const res = await sup
      .group('download')
      .request({ method: 'GET', url: `/download?bytes=${256 * MiB}`, headers: { host: 'h' } }, null)
    assert.equal(res.headers['content-length'], String(256 * MiB))
    // Read nothing for a while: the credit window caps what is buffered in the front.
    await new Promise((r) => setTimeout(r, 300))
    assert.ok(res.body.readableLength <= 2 * MiB, `buffered ${res.body.readableLength} bytes`)
    let bytes = 0
    for await (const chunk of res.body) bytes += (chunk as Buffer).length
    assert.equal(bytes, 256 * MiB)
  })
})
