import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Pool as UndiciPool } from 'undici'
import { Pool } from '../../src/proxy/undici-pool.js'

test("the pool an upstream target uses is the very Pool class undici's entry module exports", () => {
  // Fails when an undici upgrade moves lib/dispatcher/pool.js or makes the entry module wrap it.
  assert.equal(Pool, UndiciPool)
})

test('the pool dispatches a request to a real server and reads the answer', async (t) => {
  const seen: string[] = []
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`)
    res.end('hello')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => server.close())
  const pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
  t.after(() => pool.close())
  const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    let status = 0
    const chunks: Buffer[] = []
    pool.dispatch(
      { method: 'GET', path: '/probe' },
      {
        onRequestStart() {},
        onResponseStart(_controller, statusCode) {
          status = statusCode
        },
        onResponseData(_controller, chunk) {
          chunks.push(chunk)
        },
        onResponseEnd() {
          resolve({ status, body: Buffer.concat(chunks).toString() })
        },
        onResponseError(_controller, err) {
          reject(err)
        },
      },
    )
  })
  assert.deepEqual(answer, { status: 200, body: 'hello' })
  assert.deepEqual(seen, ['GET /probe'])
})
