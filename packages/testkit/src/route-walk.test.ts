import { describe, expect, it } from 'vitest';
import { concretePath, pathVariants } from './route-walk.js';

describe('route walking', () => {
  it('fills route parameters with values that pass validation', () => {
    expect(concretePath('/api/v1/studies/:studyInstanceUid/token')).toMatch(
      /^\/api\/v1\/studies\/[0-9.]+\/token$/,
    );
    expect(concretePath('/staff/users/:id/password')).toBe('/staff/users/1/password');
    expect(concretePath('/livez')).toBe('/livez');
  });

  it('spells a path in every way a prefix check could miss', () => {
    const v = pathVariants('/api/v1/access-log');
    expect(v[0]).toBe('/api/v1/access-log');
    for (const expected of [
      '/API/V1/ACCESS-LOG',
      '/api/V1/access-log',
      '/Api/v1/access-log',
      '/%61pi/v1/access-log',
      '/api/v1/%61ccess-log',
      '/api/v1/access-log/',
      '//api/v1/access-log',
      '/api/v1//access-log',
      '/./api/v1/access-log',
      '/api/./v1/access-log',
      '/api/x/../v1/access-log',
      '/api%2Fv1%2Faccess-log',
    ]) {
      expect(v, expected).toContain(expected);
    }
    expect(new Set(v).size).toBe(v.length);
  });
});
