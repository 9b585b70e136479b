/**
 * wrangler.toml as wrangler itself reads it (its own parser and validation, per environment): the
 * top level can never reach users, and each deployed environment is complete.
 */

import { afterEach, describe, expect, it, vi } from 'vitest'
import { unstable_readConfig } from 'wrangler'
import { CALLBACK_PATHS } from '../edge/routes.ts'

const DEPLOYED = ['test', 'staging', 'production'] as const
const SECRETS = ['JWT_SECRET', 'EDGE_SIGNING_SECRET', 'UPSTASH_REDIS_REST_TOKEN']
const LOOPBACK = /^https?:\/\/(127\.0\.0\.1|localhost)(:\d+)?$/

/** Reads one environment and fails on anything wrangler warns about (unknown or misplaced keys). */
function read(env?: string) {
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
  try {
    const config = unstable_readConfig({ config: 'wrangler.toml', env })
    expect(warn.mock.calls.map((args) => String(args[0]))).toEqual([])
    return config
  } finally {
    warn.mockRestore()
  }
}

const patterns = (config: ReturnType<typeof read>) =>
  (config.routes ?? []).map((r) => (typeof r === 'string' ? r : r.pattern))

/** Cloudflare route matching: `*` is the only wildcard, everything else is literal. */
const routeMatches = (pattern: string, hostAndPath: string) =>
  new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.?+^$|()[\]{}\\/]/g, '\\$&'))
      .join('.*')}$`,
  ).test(hostAndPath)

afterEach(() => vi.restoreAllMocks())

describe('wrangler.toml', () => {
  it('makes the top-level worker local-only: own name, no route, no public URL, loopback vars', () => {
    const local = read()
    const deployedNames = DEPLOYED.map((env) => read(env).name)
    expect(local.name).toBe('points-edge-local')
    expect(deployedNames).not.toContain(local.name)
    expect(local.routes ?? []).toEqual([])
    expect(local.route).toBeUndefined()
    expect(local.workers_dev).toBe(false)
    expect(local.preview_urls).toBe(false)
    expect(local.triggers.crons ?? []).toEqual([])
    expect(local.vars.ORIGIN_URL).toMatch(LOOPBACK)
    expect(local.vars.UPSTASH_REDIS_REST_URL).toMatch(LOOPBACK)
    // Locally a client may set CF-Connecting-IP itself, so it must not be trusted by default.
    expect(local.vars.TRUST_CF_CONNECTING_IP).toBeUndefined()
  })

  it('serves production and staging only from their own routes, never the WeChat callbacks', () => {
    const production = read('production')
    const staging = read('staging')
    expect(production.name).toBe('points-edge')
    expect(staging.name).toBe('points-edge-staging')
    for (const [config, host] of [
      [production, 'api.points.example.com'],
      [staging, 'api.staging.points.example.com'],
    ] as const) {
      const routes = patterns(config)
      expect(routes.length).toBeGreaterThan(0)
      for (const route of routes) expect(route.startsWith(`${host}/`)).toBe(true)
      expect(routes.some((r) => routeMatches(r, `${host}/api/points/balance`))).toBe(true)
      for (const path of CALLBACK_PATHS)
        expect(routes.filter((r) => routeMatches(r, `${host}${path}`))).toEqual([])
      expect(config.workers_dev).toBe(false)
    }
  })

  it.each([undefined, ...DEPLOYED])(
    'serves the console through the worker for %s (limits and headers apply)',
    (env) => {
      const config = read(env)
      expect(config.assets?.directory).toMatch(/dist\/assets$/)
      expect(config.assets?.binding).toBe('ASSETS')
      expect(config.assets?.run_worker_first).toBe(true)
      if (env && env !== 'test') {
        const host = env === 'production' ? 'api.points.example.com' : 'api.staging.points.example.com'
        for (const path of ['/console/', '/console/app.js', '/api/console/sessions'])
          expect(patterns(config).some((r) => routeMatches(r, `${host}${path}`))).toBe(true)
      }
    },
  )

  it.each([undefined, ...DEPLOYED])('turns on Workers Logs and source maps for %s', (env) => {
    const config = read(env)
    expect(config.observability?.enabled).toBe(true)
    expect(config.observability?.head_sampling_rate ?? 1).toBeGreaterThan(0)
    expect(config.upload_source_maps).toBe(true)
  })

  it('binds an Analytics Engine dataset of its own in every environment', () => {
    const datasets = [undefined, ...DEPLOYED].map((env) => {
      const bindings = read(env).analytics_engine_datasets
      expect(bindings.map((b) => b.binding)).toEqual(['EDGE_METRICS'])
      return bindings[0]!.dataset
    })
    expect(new Set(datasets).size).toBe(datasets.length)
  })

  it.each(DEPLOYED)('gives %s every non-secret variable, public URLs and trusted CF-Connecting-IP', (env) => {
    const { vars } = read(env)
    for (const name of ['ORIGIN_URL', 'UPSTASH_REDIS_REST_URL', 'EDGE_SIGNING_KEY_ID'])
      expect(vars[name], name).toBeTruthy()
    expect(vars.ORIGIN_URL).toMatch(/^https:\/\//)
    expect(vars.UPSTASH_REDIS_REST_URL).toMatch(/^https:\/\//)
    expect(vars.TRUST_CF_CONNECTING_IP).toBe('true')
    for (const secret of SECRETS) expect(vars, secret).not.toHaveProperty(secret)
  })
})
