/**
 * The admin /metrics of a real gateway (127.0.0.1, ephemeral ports) carries prom-client's
 * default process and Node.js metrics under their conventional unprefixed names, with values
 * that describe this process, and gatehouse_build_info naming the version in package.json.
 * The exposition text is parsed here line by line, independently of prom-client.
 */
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { request } from 'undici'
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js'

interface Exposition {
  types: Map<string, string>
  samples: Array<{ name: string; labels: Record<string, string>; value: number }>
}

/** The Prometheus text format as a scraper reads it: `# TYPE name type` and `name{l="v",…} value`. */
function parseExposition(text: string): Exposition {
  const types = new Map<string, string>()
  const samples: Exposition['samples'] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ')) continue
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line)
    if (type) {
      types.set(type[1], type[2])
      continue
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    assert.ok(m, `not an exposition line: ${line}`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2]
    samples.push({ name: m[1], labels, value: Number(m[3]) })
  }
  return { types, samples }
}

const TOKEN = 'metrics-token-0123456789abcdef'
const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string
}

describe('default process and Node.js metrics on the admin /metrics', () => {
  let gw: TestGateway
  let cleanup: () => void
  let scrape: Exposition

  before(async () => {
    const t = tempDir('gh-metrics-defaults-')
    cleanup = t.cleanup
    gw = await startGateway(
      { routes: [{ path: '/', upstream: 'http://127.0.0.1:9' }], admin: { host: '127.0.0.1', port: 0, token: TOKEN } },
      t.dir,
    )
    const res = await request(`${gw.gw.adminAddress}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
    assert.equal(res.statusCode, 200)
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/)
    scrape = parseExposition(await res.body.text())
  })
  after(async () => {
    await gw?.close()
    cleanup?.()
  })

  const one = (name: string, labels: Record<string, string> = {}) => {
    const found = scrape.samples.filter(
      (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
    )
    assert.equal(found.length, 1, `${name} ${JSON.stringify(labels)}: ${found.length} samples`)
    return found[0]
  }

  test('process metrics are unprefixed and describe a live process: CPU time, resident memory, start time, descriptors', () => {
    assert.equal(scrape.types.get('process_cpu_seconds_total'), 'counter')
    assert.ok(one('process_cpu_seconds_total').value > 0)
    assert.equal(scrape.types.get('process_resident_memory_bytes'), 'gauge')
    const rss = one('process_resident_memory_bytes').value
    assert.ok(rss > 1024 * 1024, `rss ${rss}`)
    const start = one('process_start_time_seconds').value
    const now = Date.now() / 1000
    assert.ok(start > now - 24 * 3600 && start <= now + 1, `start ${start}`)
    assert.ok(one('process_open_fds').value >= 3)
    assert.ok(one('process_max_fds').value >= one('process_open_fds').value)
    assert.equal(
      scrape.samples.some((s) => s.name.startsWith('gatehouse_process_') || s.name.startsWith('gatehouse_nodejs_')),
      false,
    )
  })

  test('Node.js metrics are present: event loop lag, heap, version, garbage collection', () => {
    assert.equal(scrape.types.get('nodejs_eventloop_lag_seconds'), 'gauge')
    const lag = one('nodejs_eventloop_lag_seconds').value
    assert.ok(Number.isFinite(lag) && lag >= 0, `lag ${lag}`)
    assert.ok(one('nodejs_eventloop_lag_p99_seconds').value >= 0)
    const used = one('nodejs_heap_size_used_bytes').value
    assert.ok(used > 0 && used <= one('nodejs_heap_size_total_bytes').value)
    assert.equal(one('nodejs_version_info').labels.version, process.version)
    assert.equal(scrape.types.get('nodejs_gc_duration_seconds'), 'histogram')
  })

  test('gatehouse_build_info is 1 with the version from package.json', () => {
    assert.equal(scrape.types.get('gatehouse_build_info'), 'gauge')
    const info = one('gatehouse_build_info')
    assert.deepEqual(info.labels, { version: packageJson.version })
    assert.equal(info.value, 1)
  })

  test("the gateway's own metrics are still there beside the defaults", () => {
    assert.equal(scrape.types.get('gatehouse_http_requests_total'), 'counter')
    assert.equal(scrape.types.get('gatehouse_config_reloads_total'), 'counter')
  })
})
