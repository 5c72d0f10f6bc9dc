import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const CLIENT = new URL('../../worker/upstream/client.ts', import.meta.url).href;
const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** Runs `code` in a fresh node (tsx loaded), which this process's own imports cannot have touched. */
function fresh(code: string): unknown {
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: REPO,
    encoding: 'utf8',
  });
  return JSON.parse(out);
}

describe('loading the upstream client', () => {
  it("leaves Node's bundled fetch unloaded, and fetch and FormData work afterwards", () => {
    const result = fresh(`
      const undici = () => process.moduleLoadList.some((m) => m.includes('undici'));
      await import(${JSON.stringify(CLIENT)});
      const before = undici();
      const form = new FormData();
      form.append('a', 'b');
      console.log(JSON.stringify({
        before,
        fetch: typeof fetch,
        request: typeof Request,
        form: form.get('a'),
        after: undici(),
      }));
    `);
    expect(result).to.deep.equal({
      before: false,
      fetch: 'function',
      request: 'function',
      form: 'b',
      after: true,
    });
  });
});
