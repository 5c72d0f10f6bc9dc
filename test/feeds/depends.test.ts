import { expect } from 'chai';
import { dependsOf, encodeDepends, NO_DEPENDS } from '../../worker/feeds/depends.js';
import type { Dependency } from '../../worker/feeds/types.js';
import { parseDependsList } from '../../worker/formats/opkg/packages-index.js';

describe('feeds/depends: dependencies kept as text', () => {
  it('reads back every form an index gives: alternatives, operators, versions, fuzzy', () => {
    const items: Dependency[][] = [
      [{ name: 'libc' }],
      [
        { name: 'libustream-mbedtls' },
        { name: 'libustream-openssl', op: '>=', version: '2024.07.28~99bd3d2b-r1' },
      ],
      [{ name: 'kernel', op: '=', version: '6.6.110~9ac09ad58ae0f9ee4cd8c62df1a95f2e-r1' }],
      [
        { name: 'so:libc.so', op: '=', version: '1.2', fuzzy: true },
        { name: 'b', op: '<<', version: '2' },
      ],
    ];
    const depends = encodeDepends(items);
    expect(dependsOf({ depends })).to.deep.equal(items);
    expect(depends.split('\n')).to.have.length(4);
  });

  it('is the empty text for none, and none again when read', () => {
    expect(encodeDepends([])).to.equal(NO_DEPENDS);
    expect(dependsOf({ depends: NO_DEPENDS })).to.deep.equal([]);
  });

  it("reads back opkg's Depends as parsed, whatever the spacing", () => {
    const parsed = parseDependsList('libc,  a (>= 1.0) | b ,c (=2-r1), d (<< 3)');
    expect(dependsOf({ depends: encodeDepends(parsed) })).to.deep.equal(parsed);
  });

  it('refuses a name or version with white space, which would read back as something else', () => {
    expect(() => encodeDepends([[{ name: 'a', op: '=', version: '1 -r1' }]])).to.throw(/white space/);
    expect(() => encodeDepends([[{ name: 'a\tb' }]])).to.throw(/white space/);
  });
});
