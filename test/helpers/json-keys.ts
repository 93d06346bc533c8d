/**
 * A strict JSON reader that reports every object key written twice. JSON.parse keeps the last
 * of two equal keys silently, so a log line with `"pid":1,"pid":2` would pass it; this walks
 * the text itself.
 */
export interface KeyCheck {
  value: unknown
  duplicates: string[]
}

export function parseUniqueKeys(text: string): KeyCheck {
  const duplicates: string[] = []
  let i = 0
  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at offset ${i}`)
  }
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++
  }
  const str = (): string => {
    const start = i
    if (text[i] !== '"') fail('expected a string')
    i++
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1
    if (i >= text.length) fail('unterminated string')
    i++
    return JSON.parse(text.slice(start, i)) as string
  }
  const value = (path: string): unknown => {
    ws()
    const c = text[i]
    if (c === '{') {
      i++
      const seen = new Set<string>()
      const obj: Record<string, unknown> = {}
      ws()
      if (text[i] === '}') {
        i++
        return obj
      }
      for (;;) {
        ws()
        const key = str()
        if (seen.has(key)) duplicates.push(`${path}${key}`)
        seen.add(key)
        ws()
        if (text[i] !== ':') fail('expected :')
        i++
        obj[key] = value(`${path}${key}.`)
        ws()
        if (text[i] === ',') {
          i++
          continue
        }
        if (text[i] === '}') {
          i++
          return obj
        }
        fail('expected , or }')
      }
    }
    if (c === '[') {
      i++
      const arr: unknown[] = []
      ws()
      if (text[i] === ']') {
        i++
        return arr
      }
      for (;;) {
        arr.push(value(`${path}[].`))
        ws()
        if (text[i] === ',') {
          i++
          continue
        }
        if (text[i] === ']') {
          i++
          return arr
        }
        fail('expected , or ]')
      }
    }
    if (c === '"') return str()
    const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 64))
    if (m === null) fail('expected a value')
    i += m![0].length
    return JSON.parse(m![0])
  }
  const v = value('')
  ws()
  if (i !== text.length) fail('text after the value')
  return { value: v, duplicates }
}

/**
 * Every line of a log (one pino record per line) as an object; throws naming the first line
 * that is not one JSON object or writes a key twice.
 */
export function logRecords(output: string): Array<Record<string, unknown>> {
  const records: Array<Record<string, unknown>> = []
  const lines = output.split('\n')
  if (lines.at(-1) === '') lines.pop()
  for (const [n, line] of lines.entries()) {
    let check: KeyCheck
    try {
      check = parseUniqueKeys(line)
    } catch (err) {
      throw new Error(`log line ${n + 1} is not JSON (${(err as Error).message}): ${line.slice(0, 300)}`)
    }
    if (check.value === null || typeof check.value !== 'object' || Array.isArray(check.value))
      throw new Error(`log line ${n + 1} is not a JSON object: ${line.slice(0, 300)}`)
    if (check.duplicates.length > 0)
      throw new Error(`log line ${n + 1} writes ${check.duplicates.join(', ')} twice: ${line.slice(0, 300)}`)
    records.push(check.value as Record<string, unknown>)
  }
  return records
}
