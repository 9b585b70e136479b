/** What ships: the Worker bundle as `wrangler deploy` builds it, and what the origin's `npm ci --omit=dev` installs. */

import { productionInstall } from '../../ops/production-install.ts'
import { measureWorkerBundle } from '../../ops/worker-bundle.ts'
import { log } from '../lib/context.ts'
import { ROOT } from '../lib/procs.ts'

/** Build and local-simulation tools: none of them may be in the origin's production install. */
const TOOLS = ['wrangler', 'workerd', 'miniflare', 'esbuild', 'tsx', 'sharp', '@cloudflare/workerd-linux-64']

export async function packaging() {
  const bundle = await measureWorkerBundle()
  log(
    `worker bundle: ${Math.round(bundle.rawBytes / 1024)} KiB raw, ${Math.round(bundle.gzipBytes / 102.4) / 10} KiB gzipped`,
  )
  const measuredInstall = productionInstall(ROOT)
  const forbidden = measuredInstall.names.filter((name) => TOOLS.includes(name))
  log(
    `production install: ${Math.round(measuredInstall.bytes / 2 ** 20)} MiB in ${measuredInstall.packages} packages; largest ${measuredInstall.largest
      .map(([name, bytes]) => `${name} ${Math.round(bytes / 2 ** 20)} MiB`)
      .join(', ')}${forbidden.length ? `; build tools among them: ${forbidden.join(', ')}` : ''}`,
  )
  return { bundle, install: { ...measuredInstall, forbidden } }
}
export type PackagingResult = Awaited<ReturnType<typeof packaging>>
