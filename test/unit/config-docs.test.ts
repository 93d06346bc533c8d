/** docs/configuration.md cannot drift from the schema parseConfig validates against, nor from the table of defaults. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { configSchema } from '../../src/config/schema.js'
import { DEFAULTS, formatDefault } from '../../src/config/defaults.js'

type Node = { properties?: Record<string, Node>; additionalProperties?: Node | boolean; items?: Node; anyOf?: Node[] }

function keyPaths(node: Node, prefix: string, out: string[]): string[] {
  const objectForm = node.anyOf?.find((n) => n.properties) ?? node
  for (const [k, child] of Object.entries(objectForm.properties ?? {})) {
    const path = prefix ? `${prefix}.${k}` : k
    out.push(path)
    keyPaths(child, path, out)
    if (child.items) keyPaths(child.items, `${path}[]`, out)
    if (child.additionalProperties && typeof child.additionalProperties === 'object')
      keyPaths(child.additionalProperties, `${path}.NAME`, out)
  }
  return out
}

test('every key of the configuration schema is documented in docs/configuration.md', () => {
  const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8')
  const paths = keyPaths(configSchema as unknown as Node, '', [])
  assert.ok(paths.length > 40, `walked ${paths.length} keys`)
  const missing = paths.filter(
    (p) => !doc.includes(`\`${p}\``) && !/^(providers|groups|routes|digest|cache|log|listen|identityHeaders)$/.test(p),
  )
  assert.deepEqual(missing, [])
})

test('every key documented in docs/configuration.md exists in the schema', () => {
  const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8')
  const paths = new Set(keyPaths(configSchema as unknown as Node, '', []))
  const documented = [...doc.matchAll(/^\| `([a-zA-Z.[\]A-Z]+)` \|/gm)].map((m) => m[1]!)
  assert.ok(documented.length > 40)
  assert.deepEqual(
    documented.filter((p) => !paths.has(p)),
    [],
  )
})

test('docs/configuration.md states every default as the table of defaults has it', () => {
  const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8')
  const rows = new Map([...doc.matchAll(/^\| `([^`]+)` \| ([^|]*) \|/gm)].map((m) => [m[1]!, m[2]!.trim()]))
  const wrong = Object.entries(DEFAULTS)
    .map(([key, value]) => ({ key, table: `\`${formatDefault(value)}\``, docs: rows.get(key) }))
    .filter((r) => r.docs !== r.table)
  assert.deepEqual(wrong, [])
})

test('every key of the table of defaults is a key of the configuration schema', () => {
  const paths = new Set(keyPaths(configSchema as unknown as Node, '', []))
  assert.ok(Object.keys(DEFAULTS).length > 60)
  assert.deepEqual(
    Object.keys(DEFAULTS).filter((k) => !paths.has(k)),
    [],
  )
})
