/** workerd entry (wrangler.toml `main`): bindings → config, one app per isolate. */
import type { ExecutionContext, Hono } from 'hono'
import { errorBody } from '../shared/errors.ts'
import { createEdgeApp } from './app.ts'
import { ConfigError, parseConfig } from './config.ts'
import { AnalyticsEngineSink } from './observability/analytics-engine.ts'
import { runtimeDeps } from './runtime-deps.ts'
import type { EdgeEnv } from './types.ts'

let app: Hono<EdgeEnv> | undefined

function misconfigured(err: ConfigError): Response {
  // One log event per problem, as the Deno and local entries print them.
  for (const line of err.message.split('\n')) console.error(line)
  return Response.json(errorBody('INTERNAL', 'The edge is misconfigured', crypto.randomUUID()), {
    status: 500,
  })
}

export default {
  fetch(request: Request, env: Record<string, unknown>, ctx: ExecutionContext): Response | Promise<Response> {
    try {
      if (!app) {
        const config = parseConfig(env)
        // Cloudflare overwrites CF-Connecting-IP with the real peer; `wrangler dev` passes on
        // whatever the client sent, so there the callers share one bucket rather than choose theirs.
        const trusted = config.TRUST_CF_CONNECTING_IP === 'true'
        app = createEdgeApp({
          ...runtimeDeps(config, (req) =>
            trusted ? (req.headers.get('cf-connecting-ip') ?? undefined) : undefined,
          ),
          // wrangler.toml [assets] with run_worker_first: the files come through here, after the limits.
          consoleFiles: (req, bindings) =>
            (bindings as { ASSETS?: { fetch: typeof fetch } }).ASSETS?.fetch(req) ??
            Promise.resolve(new Response(null, { status: 404 })),
          // Isolates come and go and cannot be scraped: counters go to Analytics Engine instead.
          observability: { sinks: [AnalyticsEngineSink.fromBindings(env)].filter((s) => s !== undefined) },
        })
      }
    } catch (err) {
      if (err instanceof ConfigError) return misconfigured(err)
      throw err
    }
    return app.fetch(request, env, ctx)
  },
}
