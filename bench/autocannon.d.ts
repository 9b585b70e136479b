/** The part of autocannon 9's API the bench uses (the package ships no types). */
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events'

  interface AutocannonOptions {
    url: string
    connections?: number
    duration?: number
    amount?: number
    pipelining?: number
    timeout?: number
    method?: string
    headers?: Record<string, string>
    body?: string
    overallRate?: number
  }

  interface AutocannonResult {
    requests: { total: number; average: number }
    non2xx: number
    errors: number
    timeouts: number
    duration: number
    start: Date
    finish: Date
  }

  interface Instance extends EventEmitter {
    stop(): void
  }

  function autocannon(
    opts: AutocannonOptions,
    cb: (err: Error | null, result: AutocannonResult) => void,
  ): Instance

  export default autocannon
}
