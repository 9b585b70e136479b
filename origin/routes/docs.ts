/** The OpenAPI document (generated from shared/schemas.ts) and a small page that renders it. */
import { Hono } from 'hono'
import { openApiDocument } from '../../shared/openapi.ts'
import type { AppEnv } from '../http/context.ts'

const DOCS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Points API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem}
code{background:#f3f3f3;padding:0 .3em}.op{border-top:1px solid #ddd;padding:.6rem 0}
.m{display:inline-block;width:4.5rem;font-weight:600;text-transform:uppercase}.tag{color:#666;font-size:90%}
details pre{background:#f7f7f7;padding:.6rem;overflow:auto;font-size:12px}</style></head>
<body><h1>Points API</h1><p>Generated from the service's zod schemas: <a href="openapi.json">openapi.json</a>.</p>
<div id="ops">Loading…</div>
<script>
fetch('openapi.json').then(r => r.json()).then(doc => {
  const out = document.getElementById('ops'); out.textContent = ''
  for (const [path, ops] of Object.entries(doc.paths)) for (const [method, op] of Object.entries(ops)) {
    const div = document.createElement('div'); div.className = 'op'
    const head = document.createElement('div')
    head.innerHTML = '<span class="m"></span><code></code> <span class="tag"></span>'
    head.children[0].textContent = method; head.children[1].textContent = path
    head.children[2].textContent = op.summary + ' · ' + op.tags.join(', ')
    const more = document.createElement('details'); const pre = document.createElement('pre')
    pre.textContent = JSON.stringify({ parameters: op.parameters, requestBody: op.requestBody, responses: op.responses }, null, 2)
    more.append(Object.assign(document.createElement('summary'), { textContent: 'schema' }), pre)
    div.append(head, more); out.append(div)
  }
})
</script></body></html>`

export function docsRoutes() {
  const document = JSON.stringify(openApiDocument())
  return new Hono<AppEnv>()
    .get('/openapi.json', (c) => {
      c.header('Content-Type', 'application/json; charset=utf-8')
      c.header('Cache-Control', 'public, max-age=300')
      return c.body(document)
    })
    .get('/docs', (c) => c.html(DOCS_PAGE))
}
