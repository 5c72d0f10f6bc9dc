/**
 * Which package specs each feed of a set is built from: the per-feed tables, the target's own
 * kmods, the fillers, and for apk releases the apk form's packages in place of opkg's.
 */
import { apkOnlyTable, OPKG_ONLY } from './tables/apk.js';
import { baseTable } from './tables/base.js';
import { coreTable } from './tables/core.js';
import { type FillerShares, fillerTable } from './tables/filler.js';
import { kmodTable } from './tables/kmods.js';
import { luciTable } from './tables/luci.js';
import { packagesTable } from './tables/packages.js';
import { routingTable } from './tables/routing.js';
import { FEED_ORDER, type FeedName, type PackageSpec } from './tables/spec.js';
import { telephonyTable } from './tables/telephony.js';
import type { Kernel, TreeFormat } from './types.js';

/** A target's own kmods beside the common table (x86's network drivers, mt76x8's USB). */
export type KmodTable = (kernelVersion: string, kernelDep: string) => PackageSpec[];

export interface TableChoice {
  format: TreeFormat;
  kernel: Kernel;
  kmodsInCore: boolean;
  fillerPackages: number;
  fillerShares?: FillerShares;
  extraKmods?: KmodTable;
}

export interface SetTables {
  specs: Record<FeedName, PackageSpec[]>;
  /** The names only this target has (its `extraKmods`): a revision ranks them apart. */
  targetOnly: Set<string>;
}

/** The opkg form of a kmod's dependency on its kernel: `kernel (=6.6.110~<vermagic>-r1)`. */
export function kernelDependency(kernel: Kernel): string {
  return `kernel (=${kernel.version}~${kernel.vermagic}-r${kernel.release})`;
}

/**
 * All seven feeds' specs. The arch feeds' depend on the format and the fillers alone, so every
 * target of a release gets the same ones; core and kmods carry the target's kernel.
 */
export function setTables(choice: TableChoice): SetTables {
  const kernelDep = kernelDependency(choice.kernel);
  const extra = choice.extraKmods?.(choice.kernel.version, kernelDep) ?? [];
  const kmods = [...kmodTable(choice.kernel.version, kernelDep), ...extra];
  const shared: Record<FeedName, PackageSpec[]> = {
    core: choice.kmodsInCore ? [...coreTable(), ...kmods] : coreTable(),
    kmods,
    base: baseTable(),
    luci: luciTable(),
    packages: packagesTable(),
    routing: routingTable(),
    telephony: telephonyTable(),
  };
  for (const [feed, fillers] of fillerTable(choice.fillerPackages, kernelDep, choice.fillerShares))
    shared[feed].push(...fillers);
  const specs = choice.format === 'apk' ? apkSpecs(shared) : shared;
  return { specs, targetOnly: new Set(extra.map((spec) => spec.name)) };
}

/** The apk form's tables: the shared ones less what only opkg has, plus what only apk has. */
function apkSpecs(specs: Record<FeedName, PackageSpec[]>): Record<FeedName, PackageSpec[]> {
  const extra = apkOnlyTable();
  const result = {} as Record<FeedName, PackageSpec[]>;
  for (const feed of FEED_ORDER) {
    result[feed] = [...specs[feed].filter((spec) => !OPKG_ONLY.has(spec.name)), ...(extra[feed] ?? [])];
  }
  return result;
}
