import { isIP } from 'node:net';

/**
 * What each configured value may be, said once for both places a value comes from: the environment
 * and the MIRROR_CONFIG file. A rule checks one item and names what it expected.
 */

export interface ItemRule {
  pattern: RegExp;
  expected: string;
}

/** Release names become path segments, so only safe characters are allowed. */
export const RELEASE: ItemRule = {
  pattern: /^(?!.*\.\.)[0-9][0-9A-Za-z.+~-]*$/,
  expected: 'a release like 24.10.4 or 25.12.0-rc1',
};

export const TARGET: ItemRule = {
  pattern: /^[a-z0-9_-]+\/[a-z0-9_-]+$/,
  expected: 'target/subtarget, e.g. ramips/mt7621',
};

/** OpenWrt's package architectures: `mipsel_24kc`, `x86_64`, `arm_cortex-a9_vfpv3-d16`, `aarch64_cortex-a53`. */
export const ARCH: ItemRule = {
  pattern: /^[a-z0-9][a-z0-9_-]*$/,
  expected: 'an architecture like mipsel_24kc or arm_cortex-a9_vfpv3-d16',
};

export const FEED: ItemRule = {
  pattern: /^[a-z0-9][a-z0-9_-]*$/,
  expected: 'feed names like base,luci,packages',
};

export const PACKAGE: ItemRule = { pattern: /^[A-Za-z0-9][A-Za-z0-9._+-]*$/, expected: 'package names' };

export const DEVICE: ItemRule = { pattern: /^[a-z0-9][a-z0-9_.,-]*$/, expected: 'device profile ids' };

/** The device list that means every device profile of each target's profiles.json. */
export const ALL_DEVICES = 'all';

/** `all` means every device, so naming devices beside it says two things at once. */
export function deviceListProblem(devices: string[]): string | undefined {
  return devices.includes(ALL_DEVICES) && devices.length > 1
    ? `either ${ALL_DEVICES} (every device of the target) alone, or device profile ids`
    : undefined;
}

export const MIRROR_MODES = ['selective', 'full'] as const;

/** core and kmods are every set's own feeds; a feed list names the architecture's feeds only. */
export function feedListProblem(feeds: string[]): string | undefined {
  return feeds.some((feed) => feed === 'core' || feed === 'kmods')
    ? 'arch feeds only: core and kmods are always mirrored'
    : undefined;
}

/** Comma- or space-separated items, empty ones dropped. */
export function splitList(raw: string): string[] {
  return raw.split(/[\s,]+/).filter((item) => item !== '');
}

/** The first item a rule refuses, with what the rule expected; undefined when all pass. */
export function badItem(items: string[], rule: ItemRule): string | undefined {
  const bad = items.find((item) => !rule.pattern.test(item));
  return bad === undefined ? undefined : `${rule.expected} (bad item ${JSON.stringify(bad)})`;
}

export const NOTIFY_EVENTS = ['failure', 'recovery', 'success', 'change', 'new-release'] as const;

export const NOTIFY_EVENT: ItemRule = {
  pattern: new RegExp(`^(${NOTIFY_EVENTS.join('|')})$`),
  expected: `events among ${NOTIFY_EVENTS.join(', ')}`,
};

/** One address: nothing fancier than a mail system needs to route it. */
export const EMAIL: ItemRule = {
  pattern:
    /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/,
  expected: 'e-mail addresses like lab@example.org',
};

export const TLS_MODES = ['off', 'self-signed'] as const;

/** A host name of letters, digits and hyphens in dot-separated labels, as a certificate names it. */
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * What is wrong with the names of TLS_NAMES, or undefined. A name whose last label is all digits is
 * a mistyped address (192.168.1.256), never a host a certificate could name.
 */
export function tlsNamesProblem(names: string[]): string | undefined {
  const expected = 'DNS names and IP addresses like mirror.lab,192.168.1.10';
  const bad = names.find((name) => isIP(name) === 0 && (!DNS_NAME.test(name) || /(^|\.)[0-9]+$/.test(name)));
  return bad === undefined ? undefined : `${expected} (bad item ${JSON.stringify(bad)})`;
}
