import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { parseClientList } from './client-list.js';
import { connectionName, parseConnectionName } from './member.model.js';

describe('Redis connection names', () => {
  it('round-trip prefix, member id, incarnation and role', () => {
    const name = connectionName('solgate', 'conductor-0', 'a1b2c3d4e5f6', 'hb');
    expect(name).toBe('solgate:solgate:conductor-0:a1b2c3d4e5f6:hb');
    expect(parseConnectionName(name)).toEqual({ prefix: 'solgate', memberId: 'conductor-0', incarnation: 'a1b2c3d4e5f6', role: 'hb' });
  });

  it('property: any prefix and id the config accepts round-trip', () => {
    const token = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,20}$/);
    fc.assert(
      fc.property(token, token, fc.stringMatching(/^[0-9a-f]{12}$/), fc.constantFrom('cmd', 'hb', 'sub'), (prefix, id, inc, role) => {
        expect(parseConnectionName(connectionName(prefix, id, inc, role))).toEqual({ prefix, memberId: id, incarnation: inc, role });
      }),
    );
  });

  it.each(['', 'solgate', 'other:p:c1:i:hb', 'solgate:p:c1:i', 'solgate:p:c1:i:hb:extra'])('ignores %j', (n) => expect(parseConnectionName(n)).toBeUndefined());
});

describe('parseClientList', () => {
  const list = [
    'id=3 addr=127.0.0.1:50000 laddr=127.0.0.1:6379 fd=8 name=solgate:p1:c1:aaaaaaaaaaaa:hb age=10 idle=0 flags=N db=0',
    'id=4 addr=127.0.0.2:50001 laddr=127.0.0.1:6379 fd=9 name=solgate:p1:c2:bbbbbbbbbbbb:cmd age=10 idle=0 flags=N db=0',
    'id=5 addr=127.0.0.1:50002 laddr=127.0.0.1:6379 fd=10 name=solgate:p2:c1:cccccccccccc:hb age=10 idle=0 flags=N db=0',
    'id=6 addr=127.0.0.1:50003 laddr=127.0.0.1:6379 fd=11 name= age=10 idle=0 flags=N db=0',
    'id=7 addr=127.0.0.1:50004 laddr=127.0.0.1:6379 fd=12 name=redis-cli age=1 idle=0 flags=N db=0',
    '',
  ].join('\n');

  it('keeps the connections named for the prefix, with their address', () => {
    expect(parseClientList(list, 'p1')).toEqual([
      { prefix: 'p1', memberId: 'c1', incarnation: 'aaaaaaaaaaaa', role: 'hb', addr: '127.0.0.1:50000' },
      { prefix: 'p1', memberId: 'c2', incarnation: 'bbbbbbbbbbbb', role: 'cmd', addr: '127.0.0.2:50001' },
    ]);
    expect(parseClientList(list, 'p2').map((c) => c.memberId)).toEqual(['c1']);
    expect(parseClientList(list, 'p3')).toEqual([]);
    expect(parseClientList('', 'p1')).toEqual([]);
  });

  it('does not read a name out of another field (laddr=…name=… is not a name)', () => {
    expect(parseClientList('id=1 addr=x lib-name=solgate:p1:c9:i:hb name=other', 'p1')).toEqual([]);
  });
});
