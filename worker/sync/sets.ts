/**
 * The sets a configuration asks for. Bridges the configuration's shape while it gains `sets`: the
 * list when it has one, else the one set its single-set fields describe.
 */
import type { Config, MirrorMode } from '../config.js';

export interface SetConfig {
  release: string;
  target: string;
  arch?: string;
  feeds: string[];
  mode: MirrorMode;
  required: string[];
  optional: string[];
  devices: string[];
}

export function setsOf(config: Config): SetConfig[] {
  const listed = (config as Config & { sets?: SetConfig[] }).sets;
  if (listed && listed.length > 0) return listed;
  return [
    {
      release: config.version,
      target: config.target,
      ...(config.arch !== undefined && { arch: config.arch }),
      feeds: config.feeds,
      mode: config.mode,
      required: config.required,
      optional: config.optional,
      devices: config.devices,
    },
  ];
}
