/** Compiles gatehouse to dist/ for the benchmark and the load runs, as `npm run build` does. */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** Runs tsc; type errors elsewhere in the tree do not stop the emit, a missing gateway.js does. */
export function buildDist(): void {
  const tsc = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.json')],
    { encoding: 'utf8' },
  )
  if (tsc.status !== 0)
    process.stderr.write(
      `warning: tsc exited with ${tsc.status}; benchmarking what it emitted\n${tsc.stdout.split('\n').slice(0, 5).join('\n')}\n`,
    )
  if (!existsSync(join(ROOT, 'dist', 'src', 'gateway.js')))
    throw new Error('dist/src/gateway.js is missing after the build')
}

/** URL of a gatehouse module, compiled (dist/src/…) or, with `source`, from src/ (tsx). */
export function gatehouseModule(name: string, source: boolean): string {
  return new URL(`${source ? '../../src/' : '../../dist/src/'}${name}`, import.meta.url).href
}
