/** How the log, `status` and the page word a failure: one line, each label said once. */
import type { Failure } from '../sync/types.js';

/** `24.10.4 x86/64: packages python3 packages/x86_64/packages/python3_….ipk: why`. */
export function failureLine(failure: Failure): string {
  const label = [failure.feed, failure.package, failure.file].filter(Boolean).join(' ');
  const line = label === '' ? failure.reason : `${label}: ${failure.reason}`;
  return failure.set ? `${failure.set}: ${line}` : line;
}
