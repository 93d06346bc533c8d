/** The tiny argv parser the commands share: --name value, --name=value, --flag, positionals. */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { errors } from '../errors.js'

export interface CliIO {
  stdin: NodeJS.ReadableStream
  stdout: (s: string) => void
  stderr: (s: string) => void
}

type Parsed<T extends NonNullable<ParseArgsConfig['options']>> = ReturnType<
  typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>
>

/**
 * Parses `args`; a mistyped or incomplete flag is GH_ERR_CLI_USAGE naming the flag, the nearest
 * known one and where the list is (`command` names the command in that hint), instead of the
 * parser's own text, which speaks of positionals and `--` to someone who only misspelt a flag.
 */
export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(
  args: string[],
  options: T,
  command?: string,
): Parsed<T> {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true })
  } catch (err) {
    throw errors.GH_ERR_CLI_USAGE(flagProblem(err as Error & { code?: string }, options, command))
  }
}

function flagProblem(
  err: Error & { code?: string },
  options: NonNullable<ParseArgsConfig['options']>,
  command: string | undefined,
): string {
  const help = `\`gatehouse ${command ?? 'COMMAND'} --help\` lists its flags`
  const quoted = /'(-[^']*)'/.exec(err.message)?.[1]
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && quoted !== undefined) {
    const typed = quoted.replace(/=.*$/, '')
    const near = nearestFlag(typed, Object.keys(options))
    return `unknown flag ${typed}${command ? ` for ${command}` : ''}${near ? `; did you mean --${near}?` : ''} (${help})`
  }
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const flag = /--([\w-]+)/.exec(err.message)?.[1]
    const spec = flag === undefined ? undefined : options[flag]
    if (flag !== undefined && spec?.type === 'string') return `flag --${flag} needs a value (--${flag} VALUE) (${help})`
    if (flag !== undefined) return `flag --${flag} takes no value (${help})`
  }
  return `${err.message.split('. ')[0]} (${help})`
}

/** The known flag closest to what was typed (edit distance at most 2, or a prefix), if any. */
function nearestFlag(typed: string, known: string[]): string | undefined {
  const word = typed.replace(/^-+/, '')
  let best: { name: string; d: number } | undefined
  for (const name of known) {
    const d = name.startsWith(word) && word.length >= 2 ? 1 : distance(word, name)
    if (d <= 2 && (best === undefined || d < best.d)) best = { name, d }
  }
  return best?.name
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const here = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = here
    }
  }
  return row[b.length]!
}
