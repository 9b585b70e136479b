/**
 * Deno's stand-in for Workers static assets: the console build in dist/assets/ (what wrangler.toml's
 * [assets] uploads), read with fetch on file: URLs. Paths reach here already canonical (no dot
 * segments or encoded slashes: edge/canonical-path.ts), and only /console/… is asked for.
 */
import type { ConsoleFiles } from './types.ts'

const ROOT = new URL('../dist/assets/', import.meta.url)

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  png: 'image/png',
  svg: 'image/svg+xml',
  json: 'application/json',
}

export const denoConsoleFiles: ConsoleFiles = async (request) => {
  const path = new URL(request.url).pathname
  const file = path.endsWith('/') ? `${path}index.html` : path
  const type = TYPES[file.slice(file.lastIndexOf('.') + 1)]
  if (!type) return new Response(null, { status: 404 })
  try {
    const found = await fetch(new URL(`.${file}`, ROOT))
    const headers = { 'content-type': type }
    if (request.method !== 'HEAD') return new Response(found.body, { status: 200, headers })
    await found.body?.cancel()
    return new Response(null, { status: 200, headers })
  } catch {
    return new Response(null, { status: 404 })
  }
}
