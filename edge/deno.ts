/** Deno entry: `deno run --allow-net --allow-env --allow-read edge/deno.ts`. */
import { createEdgeApp } from './app.ts'
import { ConfigError, parseConfig } from './config.ts'
import { denoConsoleFiles } from './console-files-deno.ts'
import { EdgeMetrics } from './observability/metrics.ts'
import { runtimeDeps } from './runtime-deps.ts'

interface ConnInfo {
  remoteAddr: { hostname: string }
}

declare const Deno: {
  env: { toObject(): Record<string, string> }
  exit(code: number): never
  serve(
    options: {
      port: number
      hostname: string
      onListen?: (addr: { hostname: string; port: number }) => void
    },
    handler: (request: Request, info: ConnInfo) => Response | Promise<Response>,
  ): { finished: Promise<void> }
}

let config: ReturnType<typeof parseConfig>
try {
  config = parseConfig(Deno.env.toObject())
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  console.error(err.message)
  Deno.exit(1)
}

// The socket's peer is the only address a caller cannot forge; CF-Connecting-IP counts only when
// the operator says Cloudflare is in front (and the edge reachable through nothing else).
const trustCf = config.TRUST_CF_CONNECTING_IP === 'true'
const app = createEdgeApp({
  ...runtimeDeps(config, (req, env) =>
    trustCf
      ? (req.headers.get('cf-connecting-ip') ?? undefined)
      : (env as ConnInfo | undefined)?.remoteAddr.hostname,
  ),
  consoleFiles: denoConsoleFiles,
  // One long-lived process: its counters are worth scraping (GET /metrics with METRICS_TOKEN).
  observability: { metrics: new EdgeMetrics() },
})

Deno.serve(
  {
    port: config.EDGE_PORT,
    hostname: config.EDGE_HOST,
    onListen: ({ hostname, port }) => console.log(`edge (deno) listening on http://${hostname}:${port}`),
  },
  (request, info) => app.fetch(request, info),
)
