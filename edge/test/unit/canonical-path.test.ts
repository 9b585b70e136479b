import { describe, expect, it } from 'vitest'
import { pathProblem, rawTarget } from '../../canonical-path.ts'

describe('rawTarget', () => {
  it('splits a raw URL without normalising anything', () => {
    expect(rawTarget('http://edge:8787/api/..//127.0.0.1:19999/x?a=1')).toEqual({
      path: '/api/..//127.0.0.1:19999/x',
      query: '?a=1',
    })
    expect(rawTarget('http://edge/api/merchants/..\\..\\latest')).toEqual({
      path: '/api/merchants/..\\..\\latest',
      query: '',
    })
    expect(rawTarget('http://edge')).toEqual({ path: '/', query: '' })
    expect(rawTarget('http://edge/?x')).toEqual({ path: '/', query: '?x' })
  })
})

describe('pathProblem', () => {
  it.each([
    '/',
    '/health',
    '/api/me',
    '/api/merchants/123',
    '/api/points/gifts/AbC-9_x',
    '/api/me/',
    "/api/x:y@z!$&'()*+,;=~",
  ])('accepts the canonical path %s', (path) => {
    expect(pathProblem(path)).toBeUndefined()
  })

  it.each([
    ['/api/merchants/..\\..\\..\\\\127.0.0.1:19999\\latest', /\\/],
    ['/api/..//127.0.0.1:19999/api/points/gifts', /\/\/|dot/],
    ['//127.0.0.1:19999/x', /\/\//],
    ['/api/./auth/login', /dot/],
    ['/api/auth/login/.', /dot/],
    ['/api/x/..', /dot/],
    ['/api/%2e%2e/auth/login', /percent/],
    ['/api/%2E/auth/login', /percent/],
    ['/api/merchants/1%2f..%2f..', /percent/],
    ['/api/merchants/1%5C..', /percent/],
    ['/api/merchants/%31', /percent/],
    ['/api/me#x', /special/],
    ['/api/m e', /special/],
    ['api/me', /start/],
    ['/api//me', /\/\//],
  ])('refuses %s', (path, message) => {
    expect(pathProblem(path)).toMatch(message)
  })
})
