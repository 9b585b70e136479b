/** workerd entry (wrangler.toml `main`): bindings → config, one app per isolate. */
import type { ExecutionContext, Hono } from 'hono'
import { errorBody } from '../shared/errors.ts'
import { createEdgeApp } from './app.ts'
import { ConfigError, parseConfig } from './config.ts'
import { runtimeDeps } from './runtime-deps.ts'
import type { EdgeEnv } from './types.ts'

let app: Hono<EdgeEnv> | undefined

function misconfigured(err: ConfigError): Response {
  console.error(err.message)
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
        app = createEdgeApp(
          runtimeDeps(config, (req) =>
            trusted ? (req.headers.get('cf-connecting-ip') ?? undefined) : undefined,
          ),
        )
      }
    } catch (err) {
      if (err instanceof ConfigError) return misconfigured(err)
      throw err
    }
    return app.fetch(request, env, ctx)
  },
}
