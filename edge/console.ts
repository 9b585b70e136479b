/**
 * The web console's static files at /console/ (API.md §17). They are served by the worker, after
 * the rate limit, never by the runtime around it, so every file gets the same limits and security
 * headers as the API, plus a CSP that lets the page load only its own script, styles and the
 * images it makes itself (the login code's data: URL, the downloaded mini-program code's blob:).
 * Each runtime supplies the files (EdgeDeps.consoleFiles): Workers static assets, a folder on Deno.
 */
import type { Context } from 'hono'
import { AppError } from '../shared/errors.ts'
import type { ConsoleFiles, EdgeEnv } from './types.ts'

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

export function consoleFile(files: ConsoleFiles) {
  return async (c: Context<EdgeEnv>) => {
    const found = await files(c.req.raw, c.env)
    if (found.status === 404) throw new AppError('NOT_FOUND', 'No such console file')
    const res = new Response(found.body, found)
    res.headers.set('content-security-policy', CONSOLE_CSP)
    // Names carry no content hash: revalidate, so a new build is picked up at once.
    res.headers.set('cache-control', 'no-cache')
    return res
  }
}

/** Whether the login page offers the sandbox-only "approve as <openid>" (CONSOLE_DEV_LOGIN). */
export const devLoginFlag = (enabled: boolean) => (c: Context<EdgeEnv>) =>
  c.json({ enabled }, 200, { 'cache-control': 'no-store' })
