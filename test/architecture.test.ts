/**
 * The layers of worker/, lowest first; a module's run-time imports stay in its layer or below, so
 * no import runs back up. Type-only imports may cross (they never run), and contracts — modules of
 * types only — import nothing at run time.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const WORKER = fileURLToPath(new URL('../worker/', import.meta.url));

/** Path prefixes (relative to worker/) of each layer, lowest first. */
const LAYERS: string[][] = [
  ['errors.ts', 'log.ts', 'order.ts', 'version.ts'],
  ['config.ts', 'config/'],
  ['feeds/'],
  ['formats/'],
  ['upstream/'],
  ['publish/'],
  ['status/'],
  ['downloads/'],
  ['notify/'],
  ['sync/'],
  ['ondemand/'],
  ['schedule/'],
  ['commands/'],
  ['cli.ts'],
];

function layerOf(file: string): number {
  const index = LAYERS.findIndex((prefixes) => prefixes.some((p) => file === p || file.startsWith(p)));
  if (index < 0) throw new Error(`worker/${file} is in no layer: add it to LAYERS`);
  return index;
}

function modules(dir = ''): string[] {
  return readdirSync(path.join(WORKER, dir), { withFileTypes: true }).flatMap((entry) => {
    const rel = dir ? `${dir}/${entry.name}` : entry.name;
    if (entry.isDirectory()) return modules(rel);
    return entry.name.endsWith('.ts') ? [rel] : [];
  });
}

/** The worker-relative modules `file` imports at run time, and those it imports types from only. */
function importsOf(file: string): { runtime: string[]; types: string[] } {
  const source = readFileSync(path.join(WORKER, file), 'utf8');
  const runtime: string[] = [];
  const types: string[] = [];
  for (const match of source.matchAll(/^(import|export)\s+(type\s+)?[^;]*?from\s+'(\.{1,2}\/[^']+)'/gms)) {
    const target = path.posix
      .normalize(path.posix.join(path.posix.dirname(file), match[3] as string))
      .replace(/\.js$/, '.ts');
    (match[2] ? types : runtime).push(target);
  }
  for (const match of source.matchAll(/import\(\s*'(\.{1,2}\/[^']+)'\s*\)/g)) {
    runtime.push(
      path.posix
        .normalize(path.posix.join(path.posix.dirname(file), match[1] as string))
        .replace(/\.js$/, '.ts'),
    );
  }
  return { runtime, types };
}

describe('architecture', () => {
  const all = modules();

  it('puts every module of worker/ in a layer', () => {
    for (const file of all) layerOf(file);
  });

  it('lets no run-time import go up a layer', () => {
    const upward: string[] = [];
    for (const file of all) {
      for (const target of importsOf(file).runtime) {
        if (layerOf(target) > layerOf(file)) upward.push(`${file} → ${target}`);
      }
    }
    expect(upward).to.deep.equal([]);
  });

  it('keeps contracts free of run-time imports', () => {
    const contracts = all.filter((file) => file.endsWith('/types.ts') || file === 'formats/format.ts');
    expect(contracts.length).to.be.greaterThan(3);
    for (const file of contracts) expect(importsOf(file).runtime, file).to.deep.equal([]);
  });

  it('declares the format names once', () => {
    const declaring = all.filter((file) =>
      /'opkg'\s*\|\s*'apk'/.test(readFileSync(path.join(WORKER, file), 'utf8')),
    );
    expect(declaring).to.deep.equal(['formats/format.ts']);
  });
});
