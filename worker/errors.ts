/**
 * The error classes of the mirror. Each names what a user needs to act on; `cli.ts` is the one
 * place that turns them into exit codes and log lines.
 */

/** A configuration value that cannot be used. Exit code 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly variable: string,
    readonly value: string,
    readonly expected: string,
  ) {
    super(`${variable}=${JSON.stringify(value)} is not valid: expected ${expected}`);
  }
}

/**
 * A value in the MIRROR_CONFIG file that cannot be used. Names the file, the line and the key, as in
 * `MIRROR_CONFIG lab.yaml line 7: sets[1].mode: "ful" is not valid: expected one of selective, full`.
 * Exit code 2, like every configuration error.
 */
export class ConfigFileError extends ConfigError {
  override name = 'ConfigFileError';
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly key: string,
    value: string | undefined,
    expected: string,
  ) {
    super('MIRROR_CONFIG', file, expected);
    const where = `MIRROR_CONFIG ${file}${line === undefined ? '' : ` line ${line}`}`;
    const what = value === undefined ? '' : ` ${JSON.stringify(value)} is not valid:`;
    this.message = `${where}: ${key}:${what} expected ${expected}`;
  }
}

/** A command line that cannot be run as given: the command, an option, or the choice it leaves open. Exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The upstream could not give us a file: HTTP status, network fault, timeout. */
export class UpstreamError extends Error {
  override name = 'UpstreamError';
  constructor(
    message: string,
    readonly url: string,
    readonly details: { status?: number; attempt?: number; kind?: UpstreamFaultKind; cause?: unknown } = {},
  ) {
    super(message, { cause: details.cause });
  }
}

/** How an upstream request failed; used for the metrics' `upstream errors by kind`. */
export type UpstreamFaultKind = 'http' | 'network' | 'timeout' | 'short-body' | 'integrity' | 'aborted';

/** Bytes that are not what an index or a checksum list promised. */
export class IntegrityError extends Error {
  override name = 'IntegrityError';
  constructor(
    readonly file: string,
    readonly expected: string,
    readonly actual: string,
    what = 'content',
  ) {
    super(`${file}: ${what} mismatch: expected ${expected}, got ${actual}`);
  }
}

/** Upstream data we refuse to act upon: an unsafe path, an oversized or malformed index, a bad signature. */
export class UntrustedInputError extends Error {
  override name = 'UntrustedInputError';
}

/**
 * Data signed by a key the mirror does not trust: not a broken upstream but a missing key (a new
 * release series, a third-party upstream), which the operator can fix.
 */
export class UntrustedKeyError extends UntrustedInputError {
  override name = 'UntrustedKeyError';
  constructor(
    message: string,
    /** The signing key: a usign fingerprint or an apk key id. */
    readonly keyIds: string[],
    readonly keyKind: 'usign' | 'apk',
  ) {
    super(message);
  }
}

/** A run stopped on purpose (SIGTERM, SIGINT). */
export class AbortedError extends Error {
  override name = 'AbortedError';
  constructor(message = 'stopped by signal') {
    super(message);
  }
}

/** `verify` could not complete its check (an I/O error a publish does not explain): not a mismatch. Exit 3. */
export class VerifyIncompleteError extends Error {
  override name = 'VerifyIncompleteError';
}
