/**
 * The layer rules of docs/architecture.md, read off the import graph of src/ and providers/:
 * every static, type-only, re-exporting and dynamic import is resolved to a file and checked
 * against the rule of the layer it comes from. A new import that goes up a layer fails here.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))

interface Rule {
  layer: string
  /** The files the rule is about (paths from the repository root). */
  files: (file: string) => boolean
  /** Whether `file` may import `target`. */
  allows: (target: string) => boolean
  why: string
}

const under =
  (...prefixes: string[]) =>
  (f: string) =>
    prefixes.some((p) => f.startsWith(p))
const none =
  (...prefixes: string[]) =>
  (f: string) =>
    !prefixes.some((p) => f.startsWith(p))

/** The composition root and the CLI: the top, which nothing below may reach. */
const TOP = [
  'src/cli/',
  'src/server.ts',
  'src/gateway.ts',
  'src/single-process-gateway.ts',
  'src/running-gateway.ts',
  'src/gateway-signals.ts',
  'src/gateway-control.ts',
  'src/cluster/',
  'src/route-steps.ts',
  'src/front-routes.ts',
  'src/admin/',
]

const RULES: Rule[] = [
  {
    layer: 'configuration',
    files: (f) => f.startsWith('src/config/') && f !== 'src/config/check-files.ts',
    allows: under('src/config/', 'src/errors.ts'),
    why: 'configuration is parsed before anything runs and imports nothing of the runtime',
  },
  {
    layer: 'check-config',
    files: (f) => f === 'src/config/check-files.ts',
    allows: none(...TOP, 'src/daemon/', 'src/ipc/', 'src/auth/', 'src/proxy/', 'src/state/', 'src/sidecar/'),
    why: 'check-config opens what a configuration names with the providers’ own parsers; it starts nothing',
  },
  {
    layer: 'auth',
    files: under('src/auth/'),
    allows: none(...TOP, 'src/proxy/', 'src/ipc/', 'src/daemon/', 'src/sidecar/', 'src/session/'),
    why: 'auth knows no targets, processes or wire: it sees providers through the provider contract only',
  },
  {
    layer: 'wire',
    files: under('src/ipc/'),
    allows: none(...TOP, 'src/daemon/', 'src/auth/', 'src/proxy/', 'src/state/'),
    why: 'the wire carries bytes and typed messages, never policy, and knows no supervisor',
  },
  {
    layer: 'provider runtime',
    files: under('src/providers/'),
    allows: none(...TOP, 'src/daemon/', 'src/ipc/', 'src/proxy/'),
    why: 'the provider runtime knows no supervisor: a group is reached through an interface',
  },
  {
    layer: 'built-in providers',
    files: under('providers/'),
    allows: none(...TOP, 'src/daemon/', 'src/ipc/', 'src/proxy/', 'src/auth/', 'src/config/'),
    why: 'built-in providers use the same contract as third-party ones',
  },
  {
    layer: "the front's parts and daemon supervision",
    files: under('src/proxy/', 'src/sidecar/', 'src/session/', 'src/metrics/', 'src/state/', 'src/daemon/'),
    allows: none(...TOP),
    why: 'nothing below the composition root imports it',
  },
  {
    layer: 'shared leaves',
    files: (f) => f === 'src/backoff.ts' || f === 'src/wait-queue.ts',
    allows: () => false,
    why: 'the daemon supervision and the provider runtime both use them, so they import nothing',
  },
  {
    layer: 'the package',
    files: under('src/'),
    allows: none('examples/', 'test/', 'bench/'),
    why: 'tsc compiles what src/ imports into dist/: the demo loads its example at run time',
  },
]

type Edge = { from: string; to: string }

/** Imports that break a rule, worded with the rule. */
function violations(edges: readonly Edge[]): string[] {
  const out: string[] = []
  for (const { from, to } of edges) {
    for (const rule of RULES) {
      if (rule.files(from) && !rule.allows(to)) out.push(`${from} imports ${to} (${rule.layer}: ${rule.why})`)
    }
  }
  return out
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const path = `${dir}/${e.name}`
    if (e.isDirectory()) return sourceFiles(path)
    return e.name.endsWith('.ts') ? [path] : []
  })
}

/** `from '…'` (import, import type, export … from), `import '…'` and `import('…')`, relative ones. */
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm

function importGraph(): Edge[] {
  const edges: Edge[] = []
  for (const from of [...sourceFiles('src'), ...sourceFiles('providers')]) {
    const text = readFileSync(join(root, from), 'utf8')
    for (const m of text.matchAll(SPECIFIER)) {
      const to = relative(root, resolve(root, dirname(from), m[1]!)).replace(/\.js$/, '.ts')
      edges.push({ from, to })
    }
  }
  return edges
}

test('the import graph of src/ and providers/ is read whole (static, type-only, re-exports, dynamic)', () => {
  const edges = importGraph()
  assert.ok(edges.length > 500, `read ${edges.length} imports`)
  const has = (from: string, to: string) => edges.some((e) => e.from === from && e.to === to)
  assert.ok(has('src/config/load-file.ts', 'src/config/parse.ts'), 'a static import')
  assert.ok(has('src/config/parse.ts', 'src/config/types.ts'), 'a multi-line type-only import')
  assert.ok(has('src/ipc/protocol.ts', 'src/providers/contract.ts'), 'an import re-exported')
  assert.ok(has('src/cli/main.ts', 'src/config/load-file.ts'), 'a dynamic import()')
})

test('no import goes up a layer, and nothing in src/ imports an example, a test or a bench', () => {
  assert.deepEqual(violations(importGraph()), [])
})

test('the rules refuse each crossing the layers once had', () => {
  const crossings: Edge[] = [
    { from: 'src/config/types.ts', to: 'src/auth/digest.ts' },
    { from: 'src/auth/throttle-gate.ts', to: 'src/proxy/trusted-proxies.ts' },
    { from: 'src/auth/provider-chain.ts', to: 'src/ipc/protocol.ts' },
    { from: 'src/config/parse.ts', to: 'src/providers/thread-pool.ts' },
    { from: 'src/providers/group-provider.ts', to: 'src/daemon/group.ts' },
    { from: 'src/wait-queue.ts', to: 'src/ipc/abort.ts' },
    { from: 'src/config/parse.ts', to: 'src/proxy/trusted-proxies.ts' },
    { from: 'src/ipc/client.ts', to: 'src/daemon/supervisor.ts' },
    { from: 'src/cli/commands/demo.ts', to: 'examples/tracker-with-django-users/accounts/db.ts' },
  ]
  const found = violations(crossings)
  assert.equal(found.length, crossings.length, found.join('\n'))
  for (const [i, c] of crossings.entries()) assert.ok(found[i]!.startsWith(`${c.from} imports ${c.to} (`), found[i])
})
