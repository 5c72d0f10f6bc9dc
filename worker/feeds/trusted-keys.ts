/**
 * The keys the mirror trusts for index signatures, read from a directory the operator controls
 * (OPENWRT_KEYS_DIR, by default the bundled `keys/`). usign keys check opkg `Packages.sig`;
 * `.pem` keys (apk v3, OpenWrt 25.12 on) are loaded by key id for the apk index checker.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { byCodeUnits } from '../order.js';
import { parseUsignPublicKey, type UsignPublicKey } from './usign.js';

/** An apk (v3) signing key: ECDSA or RSA, matched by apk's key id rather than by file name. */
export interface ApkPublicKey {
  /** 32 lowercase hex digits: the first 16 bytes of SHA-512 of the raw public key. */
  keyId: string;
  key: KeyObject;
  /** The file it came from, for messages. */
  source: string;
}

export interface TrustedKeys {
  /** usign (ed25519) keys by 16-hex-digit fingerprint. */
  usign: Map<string, UsignPublicKey>;
  /** apk keys by key id; named `ecdsa` after OpenWrt's keys, though RSA ones load too. */
  ecdsa: Map<string, ApkPublicKey>;
  /** Files that were skipped, one line each, for the log. */
  problems: string[];
  /** One line per key, e.g. `usign d310c6f2833e97f7 (Public usign key for 24.10 release builds)`. */
  describe(): string[];
}

/** Builds a key set from keys already parsed (tests, or keys that do not come from a directory). */
export function createTrustedKeys(
  usign: Iterable<UsignPublicKey>,
  apk: Iterable<ApkPublicKey> = [],
  problems: string[] = [],
): TrustedKeys {
  const usignMap = new Map<string, UsignPublicKey>();
  for (const key of usign) usignMap.set(key.fingerprint, key);
  const apkMap = new Map<string, ApkPublicKey>();
  for (const key of apk) apkMap.set(key.keyId, key);
  return {
    usign: usignMap,
    ecdsa: apkMap,
    problems,
    describe: () => [
      ...[...usignMap.values()]
        .sort((a, b) => byCodeUnits(a.fingerprint, b.fingerprint))
        .map((k) => `usign ${k.fingerprint}${k.comment ? ` (${k.comment})` : ''}`),
      ...[...apkMap.values()]
        .sort((a, b) => byCodeUnits(a.keyId, b.keyId))
        .map((k) => `apk ${k.keyId} (${k.source})`),
    ],
  };
}

/** One key set from several directories' (OPENWRT_KEYS_DIR and ./keys.d): every key of each. */
export function mergeTrustedKeys(...sets: TrustedKeys[]): TrustedKeys {
  return createTrustedKeys(
    sets.flatMap((set) => [...set.usign.values()]),
    sets.flatMap((set) => [...set.ecdsa.values()]),
    sets.flatMap((set) => set.problems),
  );
}

/**
 * Parses a PEM public key as apk identifies it. Key id per apk-tools: SHA-512 over the EC point
 * `04‖X‖Y`, or over the PKCS#1 DER of an RSA key, first 16 bytes.
 */
export function parseApkPublicKey(pem: string, source: string): ApkPublicKey {
  const key = createPublicKey({ key: pem, format: 'pem' });
  let raw: Buffer;
  if (key.asymmetricKeyType === 'ec') {
    const jwk = key.export({ format: 'jwk' });
    if (typeof jwk.x !== 'string' || typeof jwk.y !== 'string') throw new Error('EC key without coordinates');
    raw = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
  } else if (key.asymmetricKeyType === 'rsa') {
    raw = key.export({ format: 'der', type: 'pkcs1' });
  } else {
    throw new Error(`${key.asymmetricKeyType ?? 'unknown'} keys are not used by apk`);
  }
  return { keyId: createHash('sha512').update(raw).digest().subarray(0, 16).toString('hex'), key, source };
}

/** Key files are tiny; a large file in the keys directory is a mistake, not a key. */
const MAX_KEY_FILE_BYTES = 64 * 1024;

/** Files that document the directory rather than hold a key. */
const isDocumentation = (name: string): boolean => /^readme/i.test(name) || /\.(md|txt)$/i.test(name);

/**
 * Reads every regular file of `dir` (symlinks followed; dotfiles, subdirectories and README/.md
 * files skipped). `*.pem` files are apk keys, the rest usign keys. A file that does not parse is
 * skipped and described in `problems`; a directory that cannot be read throws.
 */
export async function loadTrustedKeys(dir: string): Promise<TrustedKeys> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new Error(`cannot read the trusted keys directory ${dir}: ${code}`, { cause: err });
  }
  const usign: UsignPublicKey[] = [];
  const apk: ApkPublicKey[] = [];
  const problems: string[] = [];
  const seen = new Map<string, string>(); // fingerprint → file, to report conflicting duplicates

  for (const name of names) {
    if (name.startsWith('.') || isDocumentation(name)) continue;
    const path = join(dir, name);
    try {
      const info = await stat(path);
      if (!info.isFile()) continue;
      if (info.size > MAX_KEY_FILE_BYTES) throw new Error(`larger than ${MAX_KEY_FILE_BYTES} bytes`);
      const text = await readFile(path, 'utf8');
      if (name.endsWith('.pem')) {
        apk.push(parseApkPublicKey(text, name));
        continue;
      }
      const key = parseUsignPublicKey(text);
      const earlier = seen.get(key.fingerprint);
      if (earlier !== undefined) {
        problems.push(`${path}: key ${key.fingerprint} is already loaded from ${earlier}; ignored`);
        continue;
      }
      seen.set(key.fingerprint, name);
      // opkg finds a key by file name; a mismatch would make a node reject what the mirror accepts.
      if (/^[0-9a-f]{16}$/.test(name) && name !== key.fingerprint) {
        problems.push(
          `${path}: file name differs from the key's fingerprint ${key.fingerprint}; loaded as that`,
        );
      }
      usign.push(key);
    } catch (err) {
      problems.push(`${path}: skipped: ${(err as Error).message}`);
    }
  }
  return createTrustedKeys(usign, apk, problems);
}

/**
 * The keys the configuration trusts: OPENWRT_KEYS_DIR's and, in the compose stack, those of
 * ./keys.d (OPENWRT_EXTRA_KEYS_DIR) beside them. A directory that cannot be read is a ConfigError
 * naming its variable.
 */
export async function loadConfiguredKeys(config: {
  keysDir: string;
  extraKeysDir?: string;
}): Promise<TrustedKeys> {
  const load = async (variable: string, dir: string) => {
    try {
      return await loadTrustedKeys(dir);
    } catch (error) {
      throw new ConfigError(
        variable,
        dir,
        `a readable directory of public keys (${(error as Error).message})`,
      );
    }
  };
  const keys = await load('OPENWRT_KEYS_DIR', config.keysDir);
  return config.extraKeysDir
    ? mergeTrustedKeys(keys, await load('OPENWRT_EXTRA_KEYS_DIR', config.extraKeysDir))
    : keys;
}
