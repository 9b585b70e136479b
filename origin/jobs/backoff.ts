/** The wait before retry n (1-based) of a job's item: one job interval, doubling, at most 60 intervals. */
export function retryDelayMs(attempt: number, intervalMs: number): number {
  return Math.min(intervalMs * 2 ** Math.min(attempt - 1, 16), 60 * intervalMs)
}
