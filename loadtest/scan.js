/**
 * QR-scan traffic: every scan of a merchant's code opens its public page, GET /api/merchants/:id,
 * anonymously. This is the hottest read and the one the edge caches, so it is driven at a fixed
 * arrival rate (open model): a slow edge shows up as latency and dropped iterations instead of
 * quietly lowering the offered load, as a fixed number of looping VUs would.
 *
 *   k6 run -e BASE_URL=http://127.0.0.1:8787 -e SANDBOX_URL=http://127.0.0.1:8090 loadtest/scan.js
 *
 * Options (-e): RATE scans per second (200), DURATION (60s), VUS pre-allocated (50), MAX_VUS (500),
 * ADMIN_OPENID (admin).
 */
import { check } from 'k6'
import http from 'k6/http'
import { Rate } from 'k6/metrics'
import {
  BASE_URL,
  durationEnv,
  expectStatus,
  header,
  json,
  numberEnv,
  SUMMARY_TREND_STATS,
  setupMerchant,
} from './lib/setup.js'
import { summaryHandler } from './lib/summary.js'

const RATE = numberEnv('RATE', 200)

/** Share of scans answered from the edge cache; the p95 target is only reachable when this is high. */
const cacheHit = new Rate('edge_cache_hit')

export const options = {
  scenarios: {
    scan: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: durationEnv('DURATION', '60s'),
      preAllocatedVUs: numberEnv('VUS', 50),
      maxVUs: numberEnv('MAX_VUS', 500),
    },
  },
  // Filtered to the scenario so the setup's logins and approval, which are not scans, do not count.
  thresholds: {
    // A cached page served from the edge should take a few ms; 50 ms leaves room for the network.
    'http_req_duration{scenario:scan}': ['p(95)<50'],
    'http_req_failed{scenario:scan}': ['rate<0.001'],
    // One miss per cache TTL per edge instance is expected; much more means the cache is not working.
    edge_cache_hit: ['rate>0.95'],
  },
  summaryTrendStats: SUMMARY_TREND_STATS,
}

/** The JSON summary beside the text one (lib/summary.js). */
export const handleSummary = summaryHandler('scan')

export function setup() {
  const data = setupMerchant()
  // Real QR codes point at long-lived pages, so start from a warm cache rather than measuring one
  // stampede of misses at t=0.
  expectStatus(http.get(`${BASE_URL}/api/merchants/${data.merchantId}`), 200, 'warm-up GET merchant page')
  return data
}

export default function (data) {
  // No Authorization header: the page is public, and the edge only caches credential-free requests.
  const res = http.get(`${BASE_URL}/api/merchants/${data.merchantId}`, {
    tags: { name: 'GET /api/merchants/:id' },
  })
  const body = json(res)
  check(res, {
    'merchant page: 200': (r) => r.status === 200,
    'merchant page: this merchant, ACTIVE, with its rule': () =>
      body !== null &&
      body.id === data.merchantId &&
      body.status === 'ACTIVE' &&
      typeof body.rule === 'object',
  })
  if (res.status === 200) cacheHit.add(header(res, 'X-Cache') === 'HIT')
}
