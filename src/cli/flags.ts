/** The tiny argv parser the commands share: --name value, --name=value, --flag, positionals. */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { errors } from '../errors.js'

export interface CliIO {
  stdin: NodeJS.ReadableStream
  stdout: (s: string) => void
  stderr: (s: string) => void
}

type Parsed<T extends NonNullable<ParseArgsConfig['options']>> = ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>>

export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T): Parsed<T> {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true })
  } catch (err) {
    throw errors.GH_ERR_CLI_USAGE((err as Error).message)
  }
}
