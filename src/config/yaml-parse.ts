/**
 * The YAML parser, loaded for one parse and let go after it. A front reads its configuration
 * at start and on a reload only; keeping the parser's modules for the rest of its life costs
 * 2–3 MB of RSS, so they are required here and dropped from the module cache once the text is
 * parsed, which leaves them to the garbage collector. Modules someone else loaded stay.
 */
import { createRequire } from 'node:module'
import type { parse as yamlParse } from 'yaml'

export function parseYaml(text: string, options: { prettyErrors?: boolean }): unknown {
  const require = createRequire(import.meta.url)
  const before = new Set(Object.keys(require.cache))
  try {
    return (require('yaml') as { parse: typeof yamlParse }).parse(text, options)
  } finally {
    for (const key of Object.keys(require.cache)) if (!before.has(key)) delete require.cache[key]
  }
}
