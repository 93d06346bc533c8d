/**
 * Mutation run over the security checks: for each listed module, finds its guarding conditions,
 * weakens each in turn, runs the module's fast tests, and reports the mutants no test noticed.
 *
 *   npm run mutation                                  every module below
 *   npm run mutation -- --module src/auth/nonce.ts    one module (repeatable)
 *   npm run mutation -- --list                        the mutants, without running anything
 *   options: --timeout 90 (seconds per test file), --line 120 (only mutants on that line;
 *            repeatable), --negate (also negate each guard: nearly always killed, so off)
 *
 * A guard is an `if` whose branch returns, throws, waits, refuses or counts, a boolean `return`,
 * or a regex `.test()`. Mutations: the condition becomes false (the guard is gone) or, with
 * --negate, is negated; each operand of a || (→ false) or && (→ true) chain is dropped; < <= > >=
 * move their boundary; a `return`/`throw` inside a guard's block is removed; a regex test becomes
 * true; a boolean `return` returns true and false; `return c ? a : b` returns b. A mutant is
 * killed when a test file fails or runs past the timeout. The file is always restored: after
 * each mutant, on Ctrl-C or SIGTERM, and at the next start if a run was killed outright (the
 * original is kept in the OS temp dir meanwhile); a second run in the same checkout is refused.
 * Not part of CI (minutes per module): a habit before merging a change to a security check.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const SELF = fileURLToPath(import.meta.url)
const ROOT = resolve(dirname(SELF), '..')

/** Module → test files, fastest first (the run stops at the first file that fails). */
const MODULES: Record<string, string[]> = {
  'src/auth/auth-header.ts': [
    'test/unit/auth-header.test.ts',
    'test/unit/auth-basic.test.ts',
    'test/unit/auth-digest.test.ts',
  ],
  'src/auth/basic.ts': ['test/unit/auth-basic.test.ts', 'test/integration/front-auth.test.ts'],
  'src/auth/challenge.ts': ['test/unit/auth-challenge.test.ts', 'test/integration/front-auth.test.ts'],
  'src/auth/compare.ts': ['test/unit/auth-header.test.ts', 'test/integration/front-auth.test.ts'],
  'src/auth/credential-cache.ts': [
    'test/unit/credential-cache.test.ts',
    'test/unit/cache-flush.test.ts',
    'test/unit/request-path-cache.test.ts',
  ],
  'src/auth/cache-flush.ts': ['test/unit/cache-flush.test.ts', 'test/integration/cache-flush-cli.test.ts'],
  'src/auth/digest.ts': [
    'test/unit/auth-digest.test.ts',
    'test/unit/digest-parse-edges.test.ts',
    'test/unit/request-path-cache.test.ts',
    'test/unit/digest-uri-authority.test.ts',
    'test/integration/digest-refusals.test.ts',
    'test/integration/digest-uri-authority.test.ts',
    'test/integration/front-auth.test.ts',
    'test/unit/fuzz-request-path.test.ts',
  ],
  'src/auth/fastify-auth.ts': [
    'test/integration/provider-context.test.ts',
    'test/integration/group-provider.test.ts',
    'test/integration/front-auth.test.ts',
  ],
  'src/auth/nonce.ts': [
    'test/unit/auth-nonce.test.ts',
    'test/unit/auth-challenge.test.ts',
    'test/unit/request-path-cache.test.ts',
    'test/integration/digest-refusals.test.ts',
  ],
  'src/auth/policy.ts': ['test/unit/request-path-cache.test.ts', 'test/integration/front-auth.test.ts'],
  'src/auth/provider-chain.ts': [
    'test/unit/provider-chain-errors.test.ts',
    'test/unit/request-path-cache.test.ts',
    'test/integration/sidecar-access.test.ts',
    'test/integration/front-auth.test.ts',
  ],
  'src/auth/throttle-gate.ts': [
    'test/unit/throttle-gate.test.ts',
    'test/unit/throttle.test.ts',
    'test/unit/throttle-inflight.test.ts',
    'test/unit/request-path-cache.test.ts',
    'test/integration/throttle.test.ts',
    'test/integration/throttle-spared.test.ts',
    'test/integration/throttle-concurrency.test.ts',
    'test/integration/throttle-digest-parallel.test.ts',
  ],
  'src/auth/throttle.ts': [
    'test/unit/throttle.test.ts',
    'test/unit/throttle-inflight.test.ts',
    'test/unit/throttle-gate.test.ts',
    'test/unit/request-path-cache.test.ts',
    'test/integration/throttle.test.ts',
    'test/integration/throttle-spared.test.ts',
    'test/integration/throttle-concurrency.test.ts',
  ],
  'src/auth/throttle-store.ts': [
    'test/unit/throttle-inflight.test.ts',
    'test/unit/throttle.test.ts',
    'test/integration/throttle-spared.test.ts',
    'test/integration/throttle-concurrency.test.ts',
  ],
  'src/auth/verifier.ts': [
    'test/unit/request-path-cache.test.ts',
    'test/unit/throttle-gate.test.ts',
    'test/integration/digest-refusals.test.ts',
    'test/integration/front-auth.test.ts',
  ],
  'src/sidecar/forward-auth.ts': [
    'test/integration/sidecar-access.test.ts',
    'test/integration/sidecar.test.ts',
    'test/integration/path-confusion.test.ts',
    'test/integration/digest-uri-authority.test.ts',
    'test/integration/header-count-limit.test.ts',
  ],
  'src/sidecar/original-request.ts': [
    'test/integration/sidecar-access.test.ts',
    'test/integration/sidecar.test.ts',
    'test/integration/path-confusion.test.ts',
  ],
  'src/proxy/path-rule.ts': ['test/unit/path-rule.test.ts', 'test/integration/path-confusion.test.ts'],
  'src/proxy/forward-headers.ts': [
    'test/unit/forward-headers.test.ts',
    'test/unit/config-header-hygiene.test.ts',
    'test/integration/identity-headers.test.ts',
  ],
  'src/proxy/request-target.ts': ['test/unit/request-target.test.ts', 'test/unit/fuzz-request-path.test.ts'],
  'src/proxy/send-file.ts': ['test/unit/send-file.test.ts'],
  'src/ipc/abort.ts': ['test/unit/ipc-abort.test.ts'],
  'src/ipc/client.ts': [
    'test/unit/ipc-malformed-frames.test.ts',
    'test/unit/ipc-client-response.test.ts',
    'test/unit/ipc-abort.test.ts',
    'test/integration/ipc-protocol-errors.test.ts',
  ],
  'src/ipc/control-channel.ts': [
    'test/unit/control-channel.test.ts',
    'test/integration/control-hostile-worker.test.ts',
  ],
  'src/ipc/flow.ts': ['test/unit/ipc-inbound-body.test.ts', 'test/unit/http-adapter.test.ts'],
  'src/ipc/frame-decoder.ts': [
    'test/unit/frame-decoder.test.ts',
    'test/unit/framed-socket.test.ts',
    'test/unit/ipc-malformed-frames.test.ts',
    'test/unit/ipc-client-response.test.ts',
  ],
  'src/ipc/framed-socket.ts': ['test/unit/framed-socket.test.ts', 'test/unit/ipc-malformed-frames.test.ts'],
  'src/ipc/payload.ts': ['test/unit/ipc-malformed-frames.test.ts'],
  'src/ipc/socket-path.ts': ['test/integration/daemon-isolation.test.ts'],
}

export interface Mutant {
  line: number
  start: number
  end: number
  replacement: string
  /** The original text, for the report. */
  original: string
  kind: string
}

const REFUSAL_CALL =
  /^(reject|refuse|deny|fail|destroy|abort|challenge|forbid|notFound|badRequest|protocolError|record|sleep|delay|lock|count|emit)/i
/** Dropping an operand of || makes it false; of &&, true. */
const LOGICAL: Partial<Record<ts.SyntaxKind, string>> = {
  [ts.SyntaxKind.BarBarToken]: 'false',
  [ts.SyntaxKind.AmpersandAmpersandToken]: 'true',
}
const RELATIONAL: Partial<Record<ts.SyntaxKind, string>> = {
  [ts.SyntaxKind.LessThanToken]: '<=',
  [ts.SyntaxKind.LessThanEqualsToken]: '<',
  [ts.SyntaxKind.GreaterThanToken]: '>=',
  [ts.SyntaxKind.GreaterThanEqualsToken]: '>',
}
const BOOLEAN_OPERATORS = new Set([
  ts.SyntaxKind.AmpersandAmpersandToken,
  ts.SyntaxKind.BarBarToken,
  ts.SyntaxKind.EqualsEqualsEqualsToken,
  ts.SyntaxKind.ExclamationEqualsEqualsToken,
  ts.SyntaxKind.LessThanToken,
  ts.SyntaxKind.LessThanEqualsToken,
  ts.SyntaxKind.GreaterThanToken,
  ts.SyntaxKind.GreaterThanEqualsToken,
  ts.SyntaxKind.InstanceOfKeyword,
  ts.SyntaxKind.InKeyword,
])

/** Does `stmt` (not counting nested functions) return, throw, wait, or call something that refuses or counts? */
function refuses(stmt: ts.Node): boolean {
  let found = false
  const visit = (n: ts.Node): void => {
    if (found || ts.isFunctionLike(n)) return
    if (
      ts.isReturnStatement(n) ||
      ts.isThrowStatement(n) ||
      ts.isContinueStatement(n) ||
      ts.isBreakStatement(n) ||
      ts.isAwaitExpression(n)
    )
      found = true
    else if (ts.isCallExpression(n)) {
      const callee = n.expression
      const name = ts.isPropertyAccessExpression(callee) ? callee.name.text : ts.isIdentifier(callee) ? callee.text : ''
      if (REFUSAL_CALL.test(name.replace(/^#/, ''))) found = true
    }
    if (!found) ts.forEachChild(n, visit)
  }
  visit(stmt)
  return found
}

function isBooleanExpression(e: ts.Expression): boolean {
  const x = skipParens(e)
  if (x.kind === ts.SyntaxKind.TrueKeyword || x.kind === ts.SyntaxKind.FalseKeyword) return false
  if (ts.isPrefixUnaryExpression(x) && x.operator === ts.SyntaxKind.ExclamationToken) return true
  if (ts.isBinaryExpression(x)) return BOOLEAN_OPERATORS.has(x.operatorToken.kind)
  return isRegexTest(x)
}

/** The nearest ancestor that is not a pair of parentheses. */
function skipParensUp(n: ts.Node): ts.Node {
  let p = n.parent
  while (ts.isParenthesizedExpression(p)) p = p.parent
  return p
}

function skipParens(e: ts.Expression): ts.Expression {
  return ts.isParenthesizedExpression(e) ? skipParens(e.expression) : e
}

function isRegexTest(e: ts.Node): e is ts.CallExpression {
  return ts.isCallExpression(e) && ts.isPropertyAccessExpression(e.expression) && e.expression.name.text === 'test'
}

/** Operands of a chain of the same logical operator, e.g. a || b || c → [a, b, c]. */
function chain(e: ts.Expression, op: ts.SyntaxKind): ts.Expression[] {
  const x = skipParens(e)
  if (ts.isBinaryExpression(x) && x.operatorToken.kind === op) return [...chain(x.left, op), ...chain(x.right, op)]
  return [x]
}

export function findMutants(fileName: string, text: string, negate = false): Mutant[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS)
  const out: Mutant[] = []
  const add = (
    node: ts.Node,
    replacement: string,
    kind: string,
    start = node.getStart(sf),
    end = node.getEnd(),
  ): void => {
    const original = text.slice(start, end)
    if (original === replacement) return
    out.push({ line: sf.getLineAndCharacterOfPosition(start).line + 1, start, end, replacement, original, kind })
  }
  /** Mutations inside a guarding condition: its operands and its comparisons. */
  const condition = (cond: ts.Expression): void => {
    const visit = (n: ts.Node): void => {
      if (ts.isFunctionLike(n)) return
      // Each operand of every ||/&& chain, nested ones too: (a || b) && c drops a, b, (a || b) and c in turn.
      if (ts.isBinaryExpression(n) && LOGICAL[n.operatorToken.kind] !== undefined) {
        const op = n.operatorToken.kind
        const parent = skipParensUp(n)
        if (!(ts.isBinaryExpression(parent) && parent.operatorToken.kind === op)) {
          for (const o of chain(n, op))
            add(o, LOGICAL[op] as string, `drop ${op === ts.SyntaxKind.BarBarToken ? '||' : '&&'} operand`)
        }
      }
      if (ts.isBinaryExpression(n) && RELATIONAL[n.operatorToken.kind] !== undefined) {
        add(n.operatorToken, RELATIONAL[n.operatorToken.kind] as string, 'boundary')
      }
      if (isRegexTest(n)) add(n, 'true', 'regex test → true')
      ts.forEachChild(n, visit)
    }
    visit(cond)
  }
  const visit = (n: ts.Node): void => {
    if (ts.isIfStatement(n) && refuses(n.thenStatement)) {
      add(n.expression, 'false', 'guard → false')
      if (negate) add(n.expression, `!(${n.expression.getText(sf)})`, 'guard negated')
      condition(n.expression)
      if (ts.isBlock(n.thenStatement) && n.thenStatement.statements.length > 1) {
        for (const s of n.thenStatement.statements) {
          if (ts.isReturnStatement(s) || ts.isThrowStatement(s))
            add(s, ';', `remove ${ts.isReturnStatement(s) ? 'return' : 'throw'}`)
        }
      }
    } else if (ts.isReturnStatement(n) && n.expression !== undefined && isBooleanExpression(n.expression)) {
      add(n.expression, 'true', 'boolean return → true')
      add(n.expression, 'false', 'boolean return → false')
      condition(n.expression)
    } else if (ts.isIfStatement(n) && isRegexTest(skipParens(n.expression))) {
      condition(n.expression)
    } else if (ts.isConditionalExpression(n) && ts.isReturnStatement(n.parent) && isBooleanExpression(n.condition)) {
      add(n.condition, 'false', 'returned ternary → its else branch')
      condition(n.condition)
    }
    ts.forEachChild(n, visit)
  }
  visit(sf)
  // The same text span mutated the same way twice (a chain operand that is also a regex test) runs once.
  const seen = new Set<string>()
  return out.filter((m) => {
    const key = `${m.start}:${m.end}:${m.replacement}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

export function applyMutant(text: string, m: Mutant): string {
  return text.slice(0, m.start) + m.replacement + text.slice(m.end)
}

// ── running ─────────────────────────────────────────────────────────────────────────────────

interface Options {
  modules: string[]
  list: boolean
  negate: boolean
  timeoutMs: number
  lines: number[]
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { modules: [], list: false, negate: false, timeoutMs: 90_000, lines: [] }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const value = (): string => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${a} needs a value`)
      return v
    }
    if (a === '--module') opts.modules.push(relative(ROOT, resolve(value())))
    else if (a === '--list') opts.list = true
    else if (a === '--negate') opts.negate = true
    else if (a === '--timeout') opts.timeoutMs = Number(value()) * 1000
    else if (a === '--line') opts.lines.push(Number(value()))
    else throw new Error(`unknown argument ${a} (see the comment at the top of scripts/mutate-guards.ts)`)
  }
  for (const m of opts.modules)
    if (!(m in MODULES)) throw new Error(`${m} is not in the module table of scripts/mutate-guards.ts`)
  if (opts.modules.length === 0) opts.modules = Object.keys(MODULES)
  return opts
}

/** Where the original of a file being mutated is kept, so a killed run can be undone. */
const BACKUP = join(tmpdir(), `gatehouse-mutation-${createHash('sha256').update(ROOT).digest('hex').slice(0, 12)}.json`)

/**
 * A run killed outright left a mutated file: put the original back. A run still going in this
 * checkout (its pid alive) is refused instead: its files are mutated at this very moment.
 */
function restoreLeftover(): void {
  if (!existsSync(BACKUP)) return
  const { file, text, pid } = JSON.parse(readFileSync(BACKUP, 'utf8')) as { file: string; text: string; pid: number }
  if (pid !== process.pid && alive(pid))
    throw new Error(
      `another mutation run (pid ${pid}) is changing ${relative(ROOT, file)} in this checkout; wait for it or stop it`,
    )
  writeFileSync(file, text)
  rmSync(BACKUP)
  console.error(`restored ${relative(ROOT, file)} from an interrupted run`)
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

let current: { file: string; text: string; pid: number } | null = null

function restoreCurrent(): void {
  if (current === null) return
  writeFileSync(current.file, current.text)
  rmSync(BACKUP, { force: true })
  current = null
}

let child: ReturnType<typeof spawn> | null = null
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (child?.pid !== undefined)
      try {
        process.kill(-child.pid, 'SIGKILL')
      } catch {
        /* already gone */
      }
    restoreCurrent()
    process.exit(130)
  })
}
process.on('exit', restoreCurrent)

/** true: the file's tests passed; false: failed or timed out. */
function runTests(file: string, timeoutMs: number): Promise<boolean> {
  return new Promise((done) => {
    // detached: its own process group, so a timeout ends the test runner and whatever it started.
    const c = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=dot', file], {
      cwd: ROOT,
      stdio: 'ignore',
      detached: true,
    })
    child = c
    const timer = setTimeout(() => {
      try {
        process.kill(-(c.pid as number), 'SIGKILL')
      } catch {
        /* gone */
      }
    }, timeoutMs)
    c.on('exit', (code) => {
      clearTimeout(timer)
      child = null
      done(code === 0)
    })
  })
}

async function killedBy(tests: string[], timeoutMs: number): Promise<string | undefined> {
  for (const t of tests) if (!(await runTests(t, timeoutMs))) return t
  return undefined
}

interface Row {
  module: string
  mutants: number
  killed: number
  survivors: Mutant[]
  note?: string
}

async function runModule(module: string, opts: Options): Promise<Row> {
  const file = join(ROOT, module)
  const tests = MODULES[module] as string[]
  const text = readFileSync(file, 'utf8')
  const mutants = findMutants(file, text, opts.negate).filter(
    (m) => opts.lines.length === 0 || opts.lines.includes(m.line),
  )
  if (opts.list) {
    for (const m of mutants) console.log(`${module}:${m.line}  ${m.kind}: ${oneLine(m.original)} → ${m.replacement}`)
    return { module, mutants: mutants.length, killed: 0, survivors: [] }
  }
  const missing = tests.filter((t) => !existsSync(join(ROOT, t)))
  if (missing.length > 0)
    return {
      module,
      mutants: mutants.length,
      killed: 0,
      survivors: [],
      note: `missing test files: ${missing.join(', ')}`,
    }
  if ((await killedBy(tests, opts.timeoutMs)) !== undefined)
    return {
      module,
      mutants: mutants.length,
      killed: 0,
      survivors: [],
      note: 'tests fail without any mutant: fix them first',
    }
  const survivors: Mutant[] = []
  let killed = 0
  for (const [i, m] of mutants.entries()) {
    current = { file, text, pid: process.pid }
    writeFileSync(BACKUP, JSON.stringify(current))
    writeFileSync(file, applyMutant(text, m))
    let by: string | undefined
    try {
      by = await killedBy(tests, opts.timeoutMs)
    } finally {
      restoreCurrent()
    }
    if (by === undefined) survivors.push(m)
    else killed++
    process.stderr.write(
      `${module} ${i + 1}/${mutants.length} line ${m.line} ${by === undefined ? `SURVIVED ${m.kind}: ${oneLine(m.original)} → ${m.replacement}` : `killed by ${by}`}\n`,
    )
  }
  return { module, mutants: mutants.length, killed, survivors }
}

function oneLine(s: string): string {
  const flat = s.replace(/\s+/g, ' ')
  return flat.length > 90 ? `${flat.slice(0, 87)}...` : flat
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2))
  restoreLeftover()
  const rows: Row[] = []
  for (const module of opts.modules) rows.push(await runModule(module, opts))
  if (opts.list) return
  const pad = Math.max(...rows.map((r) => r.module.length))
  console.log(`\n${'module'.padEnd(pad)}  mutants  killed  survived`)
  for (const r of rows) {
    console.log(
      `${r.module.padEnd(pad)}  ${String(r.mutants).padStart(7)}  ${String(r.killed).padStart(6)}  ${String(r.survivors.length).padStart(8)}${r.note ? `  (${r.note})` : ''}`,
    )
  }
  const total = rows.reduce((a, r) => ({ m: a.m + r.mutants, k: a.k + r.killed, s: a.s + r.survivors.length }), {
    m: 0,
    k: 0,
    s: 0,
  })
  console.log(
    `${'total'.padEnd(pad)}  ${String(total.m).padStart(7)}  ${String(total.k).padStart(6)}  ${String(total.s).padStart(8)}`,
  )
  const survivors = rows.flatMap((r) =>
    r.survivors.map((m) => `  ${r.module}:${m.line}  ${m.kind}: ${oneLine(m.original)} → ${m.replacement}`),
  )
  if (survivors.length > 0) console.log(`\nsurvivors:\n${survivors.join('\n')}`)
  if (rows.some((r) => r.note !== undefined)) process.exitCode = 2
  else if (survivors.length > 0) process.exitCode = 1
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === SELF) {
  main().catch((err: unknown) => {
    restoreCurrent()
    console.error(err instanceof Error ? err.message : err)
    process.exitCode = 2
  })
}
