/**
 * The edge in workerd through wrangler's `unstable_startWorker`, in its own Node process. Bindings
 * come as JSON in BENCH_EDGE_BINDINGS. Prints `WORKERD <url>`; disposes the worker and exits on
 * SIGTERM/SIGINT or when the bench closes stdin.
 */
import { unstable_startWorker } from 'wrangler'

process.env.CLOUDFLARE_CF_FETCH_ENABLED = 'false'
process.env.WRANGLER_SEND_METRICS = 'false'
const vars = JSON.parse(process.env.BENCH_EDGE_BINDINGS ?? '{}') as Record<string, string>

const worker = await unstable_startWorker({
  config: 'wrangler.toml',
  bindings: Object.fromEntries(
    Object.entries(vars).map(([name, value]) => [name, { type: 'plain_text' as const, value }]),
  ),
  dev: {
    server: { hostname: '127.0.0.1', port: 0 },
    inspector: false,
    watch: false,
    persist: false,
    logLevel: 'error',
  },
})
await worker.ready
console.log(`WORKERD ${(await worker.url).origin}`)

let stopping = false
const stop = () => {
  if (stopping) return
  stopping = true
  void worker.dispose().then(() => process.exit(0))
}
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
process.stdin.on('end', stop)
process.stdin.resume()
