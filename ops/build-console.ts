/**
 * `npm run build:console`: builds the web console (console/) into dist/assets/console/, the folder
 * the edge serves at /console/ (wrangler.toml [assets] on workerd, edge/console-files-deno.ts on
 * Deno). One esbuild run of well under a second, so `npm run dev`, `start:edge*` and the tests build
 * it every time rather than keep built files in git, where they could drift from the source.
 */
import { copyFileSync, mkdirSync, rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))
export const CONSOLE_OUT_DIR = `${root}dist/assets/console`

export async function buildConsole(): Promise<void> {
  rmSync(CONSOLE_OUT_DIR, { recursive: true, force: true })
  mkdirSync(CONSOLE_OUT_DIR, { recursive: true })
  await build({
    absWorkingDir: root,
    entryPoints: { app: 'console/src/main.tsx' },
    outdir: CONSOLE_OUT_DIR,
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    legalComments: 'none',
    logLevel: 'warning',
  })
  copyFileSync(`${root}console/index.html`, `${CONSOLE_OUT_DIR}/index.html`)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildConsole()
