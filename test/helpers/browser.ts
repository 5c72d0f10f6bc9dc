/**
 * A real browser for the page tests: Debian's Chromium, headless, driven by playwright-core (no
 * browser download: `scripts/install-test-tools` installs the `chromium` package).
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';

export function findChromium(): string {
  const candidates = [process.env.CHROMIUM_BIN, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  const found = candidates.find((candidate): candidate is string => !!candidate && existsSync(candidate));
  if (!found)
    throw new Error(
      'chromium not found (looked at CHROMIUM_BIN, /usr/bin/chromium): apt-get install -y chromium',
    );
  return found;
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: findChromium(),
    headless: true,
    // As root in a container, without the network this machine does not have: no sandbox, and none
    // of the background connections that would each wait for a refusal.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A page that records what the browser complained about: console errors, failed scripts, CSP reports. */
export async function openPage(browser: Browser, url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const errors: string[] = [];
  page.on('console', (message) => {
    // A failed load is reported again, with its URL, by the response handler below.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
      errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  // Which resource failed, which a console message does not say.
  page.on('response', (response) => {
    if (response.status() >= 400) errors.push(`${response.url()}: HTTP ${response.status()}`);
  });
  await page.goto(url, { waitUntil: 'networkidle' });
  return { page, errors };
}
