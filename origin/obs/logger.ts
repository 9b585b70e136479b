/** What services log through: fields, never whole requests, so tokens and bodies stay out of logs. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'

export type Logger = Record<
  Exclude<LogLevel, 'silent'>,
  (msg: string, fields?: Record<string, unknown>) => void
>

const ignore = () => {}

/** For services run outside the server (scripts, unit tests) where nobody reads the log. */
export const noopLogger: Logger = { debug: ignore, info: ignore, warn: ignore, error: ignore }
