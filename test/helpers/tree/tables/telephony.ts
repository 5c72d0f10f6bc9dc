/** The telephony arch feed's table: nothing the lab needs, so a feed the lab closure leaves out. */
import { type PackageSpec, pkg } from './spec.js';

export function telephonyTable(): PackageSpec[] {
  const asterisk = '20.11.1-r1';
  const opts = {
    license: 'GPL-2.0',
    section: 'net',
    url: 'https://www.asterisk.org/',
    cpe: 'cpe:/a:digium:asterisk',
  };
  // biome-ignore format: one package per line, so the table reads as a table
  return [
    pkg('asterisk', asterisk, 'libc, libopenssl3, libncurses6, libpopt0, libsqlite3-0, libuuid1, jansson4, libxml2-16', { ...opts, description: 'Asterisk is a complete PBX in software. It provides all of the features\nyou would expect from a PBX and more.' }),
    pkg('asterisk-pjsip', asterisk, 'libc, asterisk, libpjsip', { ...opts, description: 'Basic SIP Resource using PJSIP' }),
    pkg('asterisk-sounds', asterisk, 'libc, asterisk', { ...opts, archAll: true, description: 'Sound files for Asterisk' }),
    pkg('libpjsip', '2.14.1-r1', 'libc, libopenssl3', { license: 'GPL-2.0', section: 'libs', url: 'https://www.pjsip.org', cpe: 'cpe:/a:teluu:pjsip', description: 'Multimedia communication library' }),
    pkg('baresip', '3.16.0-r1', 'libc, libre', { license: 'BSD-3-Clause', section: 'net', url: 'https://github.com/baresip/baresip', description: 'Portable and modular SIP User-Agent with audio and video support' }),
    pkg('libre', '3.16.0-r1', 'libc, libopenssl3, zlib', { license: 'BSD-3-Clause', section: 'libs', url: 'https://github.com/baresip/re', description: 'Generic library for real-time communications with async IO support' }),
    pkg('coturn', '4.6.3-r1', 'libc, libevent2-7, libopenssl3', { license: 'BSD-3-Clause', section: 'net', url: 'https://github.com/coturn/coturn', description: 'The TURN Server is a VoIP media traffic NAT traversal server and gateway.' }),
  ];
}
