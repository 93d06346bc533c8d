/**
 * What `gatehouse check-config` adds to the schema: it opens everything a valid configuration
 * names, the way `start` would, and collects every problem instead of stopping at the first,
 * so one run shows an operator all there is to fix (as `nginx -t`). Databases are opened
 * read-only; nothing is written, listened on or started. The providers' own parsers are used,
 * so a file check-config accepts is a file the provider accepts.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto'
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs'
import { delimiter, isAbsolute, join, resolve } from 'node:path'
import Database from 'better-sqlite3'
import type { Config, GroupConfig, ProviderConfig } from './types.js'
import { DEFAULTS } from './defaults.js'
import { resolveProviderSpecifier } from '../providers/load-module.js'
import { parseHtpasswd } from '../../providers/htpasswd/parse.js'
import { parseHtdigest } from '../../providers/htdigest/parse.js'
import { parseGroupFile } from '../../providers/htpasswd/group-file.js'
import { openSqliteUserSource } from '../../providers/django/sqlite-user-source.js'
import { SCHEMA_VERSION } from '../../providers/sqlite/schema.js'
import { LoginPage } from '../session/login-page.js'

export interface ConfigProblem {
  /** Key path in the configuration file, e.g. `providers.users.file`. */
  key: string
  /** What was found against what was expected. */
  problem: string
  /** What to do about it. */
  fix: string
}

/** Every problem found opening what `config` names; empty when `start` would find all of it. */
export function checkConfigFiles(config: Config): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  for (const p of Object.values(config.providers)) problems.push(...checkProvider(p, config.baseDir))
  problems.push(...checkDigestSecret(config))
  problems.push(...checkTls(config))
  problems.push(...checkLoginTemplate(config))
  for (const g of Object.values(config.groups)) problems.push(...checkGroup(g))
  return problems
}

function reason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'ENOENT') return 'no such file'
  if (code === 'EACCES') return 'permission denied to the user running gatehouse'
  if (code === 'EISDIR') return 'is a directory, not a file'
  return code ?? (err as Error).message
}

/** Reads a file and parses it with `parse`; a problem names the key and the line. */
function parsedFile(
  key: string,
  path: string,
  format: string,
  parse: (text: string) => unknown,
  fix: string,
): ConfigProblem[] {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    return [{ key, problem: `cannot read ${path}: ${reason(err)}`, fix }]
  }
  try {
    parse(text)
  } catch (err) {
    return [
      {
        key,
        problem: `${path} is not a valid ${format}: ${(err as Error).message}`,
        fix: `correct that line (each line is ${format === 'htdigest file' ? '"user:realm:md5-hex", as htdigest writes it' : format === 'group file' ? '"group: user1 user2"' : '"user:hash", as htpasswd writes it'})`,
      },
    ]
  }
  return []
}

function checkProvider(p: ProviderConfig, baseDir: string): ConfigProblem[] {
  const at = (option: string): string => `providers.${p.name}.${option}`
  const file = (option: string): string | undefined => {
    const v = p.options[option]
    return typeof v === 'string' && v !== '' ? resolve(baseDir, v) : undefined
  }
  const out: ConfigProblem[] = []
  if (p.type === 'htpasswd' || p.type === 'htdigest') {
    const path = file('file')
    if (path !== undefined) {
      const fix =
        p.type === 'htpasswd'
          ? `create it with \`htpasswd -cB ${path} USER\`, or correct ${at('file')}`
          : `create it with \`htdigest -c ${path} REALM USER\`, or correct ${at('file')}`
      out.push(
        ...parsedFile(at('file'), path, `${p.type} file`, p.type === 'htpasswd' ? parseHtpasswd : parseHtdigest, fix),
      )
    }
    const groups = file('groupFile')
    if (groups !== undefined)
      out.push(
        ...parsedFile(
          at('groupFile'),
          groups,
          'group file',
          parseGroupFile,
          `create it (lines "group: user1 user2"), or correct ${at('groupFile')}`,
        ),
      )
  } else if (p.type === 'sqlite') {
    const path = file('database')
    if (path !== undefined) out.push(...checkUserStore(at('database'), path))
  } else if (p.type === 'django') {
    const path = file('database')
    if (path !== undefined) {
      try {
        openSqliteUserSource(path).close()
      } catch (err) {
        out.push({
          key: at('database'),
          problem: (err as Error).message,
          fix: `point ${at('database')} at the Django site's database (settings.DATABASES['default']['NAME']) after \`python manage.py migrate\` created its auth tables`,
        })
      }
    }
  } else {
    try {
      resolveProviderSpecifier(p.module, baseDir)
    } catch (err) {
      out.push({
        key: at('module'),
        problem: (err as Error).message,
        fix: `install the module or correct ${at('module')} (a path relative to the configuration file, or a package name)`,
      })
    }
  }
  return out
}

/** gatehouse's own user store, opened read-only: its tables must be there at the version this gatehouse writes. */
function checkUserStore(key: string, path: string): ConfigProblem[] {
  const fix = `create it with \`gatehouse users add USER --database ${path}\`, or correct ${key}`
  if (!existsSync(path)) return [{ key, problem: `no user store at ${path}: no such file`, fix }]
  let db: Database.Database
  try {
    db = new Database(path, { readonly: true, fileMustExist: true })
  } catch (err) {
    return [{ key, problem: `cannot open the user store ${path}: ${(err as Error).message}`, fix }]
  }
  try {
    const tables = new Set(
      (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map(
        (r) => r.name,
      ),
    )
    const missing = ['users', 'groups', 'user_groups', 'digest_ha1'].filter((t) => !tables.has(t))
    if (missing.length > 0)
      return [{ key, problem: `${path} is not a gatehouse user store: no table ${missing.join(', ')}`, fix }]
    const version = db.pragma('user_version', { simple: true }) as number
    if (version > SCHEMA_VERSION)
      return [
        {
          key,
          problem: `${path} has schema version ${version}, newer than this gatehouse (${SCHEMA_VERSION})`,
          fix: 'run the gatehouse version that wrote it',
        },
      ]
    return []
  } catch (err) {
    return [{ key, problem: `cannot read the user store ${path}: ${(err as Error).message}`, fix }]
  } finally {
    db.close()
  }
}

function checkDigestSecret(config: Config): ConfigProblem[] {
  const path = config.digest.secretFile
  if (path === undefined) return []
  const fix = `create it with \`openssl rand -hex 32 > ${path} && chmod 600 ${path}\`, or correct digest.secretFile`
  try {
    if (readFileSync(path, 'utf8').trim().length < 16)
      return [{ key: 'digest.secretFile', problem: `${path} holds fewer than 16 characters`, fix }]
  } catch (err) {
    return [{ key: 'digest.secretFile', problem: `cannot read ${path}: ${reason(err)}`, fix }]
  }
  return []
}

/** The login page template is read and its placeholders checked as `start` does (LoginPage). */
function checkLoginTemplate(config: Config): ConfigProblem[] {
  const path = config.session.template
  if (path === undefined || !config.routes.some((r) => r.auth?.scheme.includes('form'))) return []
  try {
    new LoginPage(path)
    return []
  } catch (err) {
    return [
      {
        key: 'session.template',
        problem: (err as Error).message.replace(/^invalid configuration: session\.template: /, ''),
        fix: 'point session.template at an HTML file holding {{action}}, {{csrf}} and {{return}} (docs/form-login.md), or remove it for the built-in page',
      },
    ]
  }
}

function checkTls(config: Config): ConfigProblem[] {
  const tls = config.listen.tls
  if (tls === undefined) return []
  const out: ConfigProblem[] = []
  let cert: X509Certificate | undefined
  try {
    cert = new X509Certificate(readFileSync(tls.cert))
  } catch (err) {
    out.push({
      key: 'listen.tls.cert',
      problem: `cannot load the certificate ${tls.cert}: ${reason(err)}`,
      fix: 'point listen.tls.cert at a PEM certificate (the full chain) readable by the user running gatehouse',
    })
  }
  let key: ReturnType<typeof createPrivateKey> | undefined
  try {
    key = createPrivateKey(readFileSync(tls.key))
  } catch (err) {
    out.push({
      key: 'listen.tls.key',
      problem: `cannot load the private key ${tls.key}: ${reason(err)}`,
      fix: 'point listen.tls.key at the unencrypted PEM private key readable by the user running gatehouse',
    })
  }
  if (cert !== undefined && key !== undefined && !cert.checkPrivateKey(key)) {
    out.push({
      key: 'listen.tls.key',
      problem: `the private key ${tls.key} does not match the certificate ${tls.cert} (${cert.subject.replace(/\n/g, ', ')})`,
      fix: 'use the key the certificate was issued for (listen.tls.cert and listen.tls.key come from the same certificate request)',
    })
  }
  return out
}

function checkGroup(g: GroupConfig): ConfigProblem[] {
  const at = (k: string): string => `groups.${g.name}.${k}`
  const out: ConfigProblem[] = []
  const appKey = g.kind === 'python' ? 'wsgi' : 'app'
  try {
    if (!statSync(g.app).isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' })
    accessSync(g.app, constants.R_OK)
  } catch (err) {
    out.push({
      key: at(appKey),
      problem: `cannot read ${g.app}: ${reason(err)}`,
      fix: `correct ${at(appKey)} (relative paths start at the configuration file's directory)`,
    })
  }
  if (g.provider !== undefined) {
    try {
      accessSync(g.provider, constants.R_OK)
    } catch (err) {
      out.push({
        key: at('provider'),
        problem: `cannot read ${g.provider}: ${reason(err)}`,
        fix: `correct ${at('provider')}`,
      })
    }
  }
  if (g.kind === 'python') {
    const python = g.python ?? DEFAULTS['groups.NAME.python']
    if (findExecutable(python) === undefined) {
      out.push({
        key: at('python'),
        problem: `no executable ${python}${python.includes('/') ? '' : ' on PATH'}`,
        fix: `install Python 3 or set ${at('python')} to the interpreter's path`,
      })
    }
  }
  if (g.node !== undefined && findExecutable(g.node) === undefined) {
    out.push({
      key: at('node'),
      problem: `no executable ${g.node}${g.node.includes('/') ? '' : ' on PATH'}`,
      fix: `set ${at('node')} to a Node.js binary's path, or remove it to use the one running gatehouse`,
    })
  }
  try {
    if (!statSync(g.cwd).isDirectory()) throw new Error('not a directory')
  } catch (err) {
    out.push({
      key: at('cwd'),
      problem: `${g.cwd} is not a directory: ${reason(err)}`,
      fix: `create it or correct ${at('cwd')}`,
    })
  }
  return out
}

/** The path `spawn` would run for `command`: as given when it holds a slash, else the first hit on PATH. */
function findExecutable(command: string): string | undefined {
  const candidates = command.includes('/')
    ? [command]
    : (process.env.PATH ?? '')
        .split(delimiter)
        .filter((d) => isAbsolute(d))
        .map((d) => join(d, command))
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK)
      if (statSync(c).isFile()) return c
    } catch {
      // not this one
    }
  }
  return undefined
}
