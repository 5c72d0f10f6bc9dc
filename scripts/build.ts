/**
 * `npm run build`: worker/ bundled by esbuild into dist/, with the dependencies, one chunk per
 * command and what they share (docs/design.md, "One bundle, not a module per file"). Loading ~250
 * modules one by one took about 0.1 s of every run's start-up, where a quiet night takes 0.7 s
 * in all. The type check comes first (`tsc --noEmit`, package.json), because esbuild only strips
 * the types.
 *
 * Every chunk sits in dist/ itself, so `import.meta.url` is dist/<file> wherever a module was, and
 * `../keys`, `../package.json` and `createRequire(import.meta.url)` resolve as they did. CommonJS
 * dependencies `require()` Node's own modules; an ES module has no `require`, so each chunk gets
 * one made for its own URL.
 */
import { realpathSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const REPO = fileURLToPath(new URL('..', import.meta.url));

/** Bundles worker/ into `outDir` (emptied first); returns how many .js files and bytes it wrote. */
export async function bundle(outDir: string): Promise<{ files: number; bytes: number }> {
  await rm(outDir, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: REPO,
    entryPoints: ['worker/cli.ts'],
    outdir: outDir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20.19',
    sourcemap: 'linked',
    // The banner's own names, so that they cannot meet a bundled module's.
    banner: {
      js: "import { createRequire as __bundleCreateRequire } from 'node:module'; const require = __bundleCreateRequire(import.meta.url);",
    },
    metafile: true,
    logLevel: 'warning',
  });
  const js = Object.entries(result.metafile.outputs).filter(([file]) => file.endsWith('.js'));
  return { files: js.length, bytes: js.reduce((sum, [, output]) => sum + output.bytes, 0) };
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { files, bytes } = await bundle(path.join(REPO, 'dist'));
  console.log(`dist/: ${files} files, ${(bytes / 1e6).toFixed(1)} MB (entry dist/cli.js)`);
}
