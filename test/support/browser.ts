import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/**
 * One headless Debian Chromium per test file, driven by playwright-core (never a downloaded browser
 * build), with a fresh profile that is removed afterwards. Pages are tabs of one context; each tab
 * has its own sessionStorage, as in a real browser.
 */
export class TestBrowser {
  private constructor(
    readonly context: BrowserContext,
    private readonly profile: string,
  ) {}

  static async launch(): Promise<TestBrowser> {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: scripts/prereqs.sh test installs Debian's chromium`);
    const profile = mkdtempSync(join(tmpdir(), 'solgate-chromium-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
      viewport: { width: 1366, height: 768 },
      colorScheme: 'dark',
    });
    return new TestBrowser(context, profile);
  }

  async newPage(): Promise<Page> {
    const page = await this.context.newPage();
    page.setDefaultTimeout(15_000);
    return page;
  }

  async close(): Promise<void> {
    await this.context.close().catch(() => undefined);
    rmSync(this.profile, { recursive: true, force: true });
  }
}

/** The text on the xterm.js screen (DOM renderer rows), lines joined with \n. */
/**
 * Bytes a page load transfers over the network (compressed, headers included), with the cache
 * disabled: what a first visit costs.
 */
export async function bytesTransferred(page: Page, url: string): Promise<number> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  let total = 0;
  cdp.on('Network.loadingFinished', (e: { encodedDataLength: number }) => (total += e.encodedDataLength));
  await page.goto(url, { waitUntil: 'networkidle' });
  await cdp.detach();
  return total;
}

export async function terminalText(page: Page): Promise<string> {
  // evaluated in the page (a string: this file is compiled without the DOM's types)
  return page.evaluate<string>(`Array.from(document.querySelectorAll('.xterm-rows > div')).map((r) => (r.textContent || '').replace(/\\u00a0/g, ' ')).join('\\n')`);
}
