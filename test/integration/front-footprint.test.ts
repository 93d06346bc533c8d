/**
 * What `gatehouse start` loads for the getting-started configuration (one htpasswd provider, one
 * upstream route), read from the module cache of the running front after it served a login: the
 * packages it never uses stay unloaded (docs/performance.md, Memory).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { request } from 'node:http'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startEchoUpstream } from '../helpers/echo-upstream.js'
import { tempDir, writeFile } from '../helpers/gateway.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

async function freePort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as { port: number }).port
  await new Promise((r) => srv.close(r))
  return port
}

function get(port: number, authorization?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/', headers: authorization ? { authorization } : {} },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      },
    )
    req.on('error', reject)
    req.end()
  })
}

test('a front with one htpasswd provider and an upstream route serves a login without loading ajv, fastify schema compilers or undici beyond its pool, and lets the YAML parser go', async (t) => {
  const upstream = await startEchoUpstream()
  t.after(() => upstream.close())
  const { dir, cleanup } = tempDir('gh-footprint-')
  t.after(cleanup)
  // {SHA} (base64 SHA-1), written here with node:crypto rather than gatehouse's own code.
  writeFile(dir, 'users.htpasswd', `alice:{SHA}${createHash('sha1').update('footprint-pw').digest('base64')}\n`)
  const port = await freePort()
  const config = writeFile(
    dir,
    'gatehouse.yaml',
    [
      `listen: { host: 127.0.0.1, port: ${port} }`,
      'providers:',
      '  office: { type: htpasswd, file: ./users.htpasswd }',
      'routes:',
      '  - path: /',
      `    upstream: ${upstream.url}`,
      '    auth: { scheme: basic, realm: Office, provider: office }',
      '',
    ].join('\n'),
  )
  // Writes the CommonJS module cache (where every npm package the front loads is listed) on exit.
  const modules = join(dir, 'modules.json')
  const probe = writeFile(
    dir,
    'probe.cjs',
    `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(modules)}, JSON.stringify(Object.keys(require.cache))))\n`,
  )
  const main = new URL('../../src/cli/main.ts', import.meta.url).href
  const child = spawn(
    process.execPath,
    [
      '--require',
      probe,
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `const { main } = await import(${JSON.stringify(main)}); process.exitCode = await main(['start', '--config', ${JSON.stringify(config)}])`,
    ],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
  )
  let stderr = ''
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })

  let status = 0
  for (let i = 0; i < 300 && status !== 401; i++) {
    if (child.exitCode !== null) assert.fail(`gatehouse start exited: ${stderr}`)
    status = await get(port).catch(() => 0)
    if (status !== 401) await new Promise((r) => setTimeout(r, 100))
  }
  assert.equal(status, 401, stderr)
  assert.equal(await get(port, `Basic ${Buffer.from('alice:footprint-pw').toString('base64')}`), 200)
  assert.equal(upstream.seen.length, 1, 'the upstream saw the login')
  child.kill('SIGTERM')
  await exited

  const loaded = (JSON.parse(readFileSync(modules, 'utf8')) as string[]).map((p) => p.replace(/\\/g, '/'))
  const within = (pkg: string): string[] => loaded.filter((p) => p.includes(`/node_modules/${pkg}/`))
  assert.ok(within('fastify').length > 0, 'the probe saw the packages the front loaded')
  assert.ok(
    within('undici').some((p) => p.endsWith('/lib/dispatcher/pool.js')),
    'the upstream route loaded undici pool',
  )
  assert.deepEqual(
    within('undici').filter((p) => p.endsWith('/undici/index.js') || p.includes('/lib/web/')),
    [],
    "undici's entry module and its fetch/WebSocket modules",
  )
  assert.deepEqual(
    within('ajv').filter((p) => !/\/node_modules\/ajv\/dist\/runtime\/[a-z0-9]+\.js$/.test(p)),
    [],
    'ajv beyond its runtime helpers',
  )
  assert.deepEqual(within('yaml'), [], 'the YAML parser, after the configuration was read')
  assert.deepEqual(within('@fastify/ajv-compiler'), [])
  assert.deepEqual(within('@fastify/fast-json-stringify-compiler'), [])
})
