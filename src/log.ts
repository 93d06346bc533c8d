/**
 * The pino logger and its conventions. Credentials are redacted at the logger as a second
 * line of defence; the first is that no code path logs headers or passwords at all.
 */
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino'

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'headers.authorization',
  'headers["proxy-authorization"]',
  '*.password',
  'password',
  'authorization',
]

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    base: { pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  }
}

export function createLogger(level = 'info', destination?: NodeJS.WritableStream): Logger {
  return destination ? pino(loggerOptions(level), destination as unknown as DestinationStream) : pino(loggerOptions(level))
}

export type { Logger }
