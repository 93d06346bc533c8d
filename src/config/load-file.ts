/**
 * Reads a configuration file (YAML or JSON, by extension; YAML is a superset so anything else
 * is read as YAML) and hands it to parseConfig with the file's directory as the base for
 * relative paths.
 */
import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { parseYaml } from './yaml-parse.js'
import { parseConfig } from './parse.js'
import { errors } from '../errors.js'
import type { Config } from './types.js'

export async function loadConfigFile(file: string): Promise<Config> {
  const path = resolve(file)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw errors.GH_ERR_CONFIG_READ(path, (err as NodeJS.ErrnoException).code ?? (err as Error).message)
  }
  let raw: unknown
  try {
    raw = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text, { prettyErrors: true })
  } catch (err) {
    // The yaml library's message carries the line, column and a snippet with a caret: keep all of it.
    throw errors.GH_ERR_CONFIG_READ(path, (err as Error).message.trimEnd())
  }
  return parseConfig(raw ?? {}, { baseDir: dirname(path) })
}
