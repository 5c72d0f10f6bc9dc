/** Version operators, the same for every package manager once versions are compared. */
import type { VersionOp } from './types.js';

/** Whether a comparison result `r` (negative, 0, positive) meets `op`. */
export function meetsOp(r: number, op: VersionOp): boolean {
  switch (op) {
    case '<<':
      return r < 0;
    case '<=':
      return r <= 0;
    case '=':
      return r === 0;
    case '>=':
      return r >= 0;
    case '>>':
      return r > 0;
  }
}
