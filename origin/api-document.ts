/**
 * The OpenAPI document without a running service. Routes touch their dependencies only when a
 * request arrives, so an app built on a placeholder describes itself exactly as the real one does.
 */
import { createOriginApp } from './app.ts'
import type { OriginDeps } from './http/context.ts'
import { describeApi } from './http/openapi.ts'

export function apiDocument(): Record<string, unknown> {
  const placeholder: OriginDeps = new Proxy({} as OriginDeps, { get: () => placeholder })
  return describeApi(createOriginApp(placeholder))
}
