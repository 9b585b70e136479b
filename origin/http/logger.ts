/** One JSON line per event on stdout. Callers pass fields, never whole requests, so tokens,
 * keys and bodies cannot slip into the log. */
import type { Logger, LogLevel } from '../obs/logger.ts'

export type { Logger, LogLevel }

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 }

/** drizzle's error messages end in the bound parameters of the failed query, i.e. user input. */
function withoutQueryParams(_key: string, value: unknown): unknown {
  return typeof value === 'string' && value.includes('\nparams:')
    ? value.slice(0, value.indexOf('\nparams:'))
    : value
}

export function createLogger(
  level: LogLevel,
  write: (line: string) => void = (l) => process.stdout.write(l),
): Logger {
  const at = (name: Exclude<LogLevel, 'silent'>) => (msg: string, fields?: Record<string, unknown>) => {
    if (LEVELS[name] < LEVELS[level]) return
    write(
      `${JSON.stringify({ time: new Date().toISOString(), level: name, msg, ...fields }, withoutQueryParams)}\n`,
    )
  }
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}
