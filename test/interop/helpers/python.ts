/** Debian's /usr/bin/python3 (the python3 on PATH may lack the Debian packages) and its modules. */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { isExecutable, noProxyEnv, run, skipOrFail } from './run.js'

export const PYTHON = '/usr/bin/python3'

/** Absolute path of a script under test/interop/python/. */
export const pythonScript = (name: string): string => fileURLToPath(new URL(`../python/${name}`, import.meta.url))

/** A skip reason when /usr/bin/python3 or one of `modules` is missing, else false. */
export function skipUnlessPython(modules: readonly string[], debianPackages: string): string | false {
  if (!isExecutable(PYTHON)) return skipOrFail(`${PYTHON} not found (Debian package python3)`)
  const probe = spawnSync(PYTHON, ['-c', modules.map((m) => `import ${m}`).join('; ')], {
    timeout: 10_000,
    env: noProxyEnv(),
  })
  return probe.status === 0
    ? false
    : skipOrFail(`${PYTHON} cannot import ${modules.join(', ')} (Debian packages ${debianPackages})`)
}

/** Runs a script with one JSON argument and parses the JSON it prints; a non-zero exit throws with stderr. */
export async function runPythonJson<T>(script: string, args: unknown, timeoutMs = 30_000): Promise<T> {
  const r = await run(PYTHON, [pythonScript(script), JSON.stringify(args)], { timeoutMs })
  if (r.code !== 0) throw new Error(`${script} exited with ${r.code ?? r.signal}: ${r.stderr.slice(-2000)}`)
  return JSON.parse(r.stdout) as T
}
