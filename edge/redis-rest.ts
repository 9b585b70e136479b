/**
 * The edge's Upstash client: one command per POST, as Upstash's REST API takes it
 * (`["EVALSHA", sha, numkeys, …]` → `{"result": …}` or `{"error": "…"}`). The only commands the
 * edge sends are the rate limiter's script calls, so this replaces the SDK (≈ 80 KiB of the Worker,
 * and per-call work: command objects, serializers, telemetry headers) with a fetch.
 */
import type { ScriptRunner } from './rate-limit/redis-limiter.ts'

export class UpstashRest implements ScriptRunner {
  private readonly headers: Record<string, string>

  constructor(
    private readonly url: string,
    token: string,
    /** No retry: the fallback limiter is the retry, and a slow Redis must not hold requests up. */
    private readonly timeoutMs: number,
  ) {
    this.headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  }

  async command(args: Array<string | number>): Promise<unknown> {
    const res = await fetch(this.url, {
      method: 'POST',
      headers: this.headers,
      body: JSON.stringify(args),
      signal: AbortSignal.timeout(this.timeoutMs),
    })
    const body = (await res.json().catch(() => undefined)) as { result?: unknown; error?: string } | undefined
    if (body?.error !== undefined) throw new Error(`Upstash: ${body.error}`)
    if (!res.ok || body === undefined) throw new Error(`Upstash: HTTP ${res.status}`)
    return body.result
  }

  evalsha(sha1: string, keys: string[], args: string[]): Promise<unknown> {
    return this.command(['EVALSHA', sha1, keys.length, ...keys, ...args])
  }

  eval(script: string, keys: string[], args: string[]): Promise<unknown> {
    return this.command(['EVAL', script, keys.length, ...keys, ...args])
  }
}
