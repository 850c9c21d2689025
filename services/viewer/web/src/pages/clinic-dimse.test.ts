import { describe, expect, it } from '@jest/globals';
import { networksTyped } from './clinic-dimse';

describe('networksTyped', () => {
  it('reads the networks an admin types, however separated, and none as any address', () => {
    expect(networksTyped('10.20.0.0/16, 192.168.5.0/24')).toEqual(['10.20.0.0/16', '192.168.5.0/24']);
    expect(networksTyped(' 10.20.0.0/16;192.168.5.0/24\n2001:db8::/32 ')).toEqual(['10.20.0.0/16', '192.168.5.0/24', '2001:db8::/32']);
    expect(networksTyped('')).toBeNull();
    expect(networksTyped(' , ; \n')).toBeNull();
    // What is not a network is the server's to refuse (PostgreSQL's cidr input), so it is passed on as typed.
    expect(networksTyped('10.99.0.1/16')).toEqual(['10.99.0.1/16']);
  });
});
