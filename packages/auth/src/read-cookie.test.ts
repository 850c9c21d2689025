import { readCookie } from './middleware';

const withCookie = (cookie: string | undefined) => ({ headers: cookie === undefined ? {} : { cookie } });

describe('readCookie (Cookie header through the cookie package)', () => {
  it('finds the named cookie among others, spaces and percent-encoding as browsers send them', () => {
    const req = withCookie('theme=dark; yy_access=abc.def.ghi;__Host-yy_access=tls%20token; empty=');
    expect(readCookie(req, 'yy_access')).toBe('abc.def.ghi');
    expect(readCookie(req, '__Host-yy_access')).toBe('tls token');
    expect(readCookie(req, 'empty')).toBe('');
    expect(readCookie(req, 'yy_refresh')).toBeUndefined();
  });

  it('reads nothing from an absent header, and a value that is not valid percent-encoding as absent', () => {
    expect(readCookie(withCookie(undefined), 'yy_access')).toBeUndefined();
    expect(readCookie(withCookie('yy_access=%E0%A4%A'), 'yy_access')).toBeUndefined();
  });

  it('the first of two cookies with one name wins (a path-scoped one is sent first)', () => {
    expect(readCookie(withCookie('yy_refresh=first; yy_refresh=second'), 'yy_refresh')).toBe('first');
  });
});
