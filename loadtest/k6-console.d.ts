// k6 provides console in every script; @types/k6 leaves it to the DOM library, which k6 is not.
declare const console: {
  log(...data: unknown[]): void
  info(...data: unknown[]): void
  warn(...data: unknown[]): void
  error(...data: unknown[]): void
}
