import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { packageRoot } from '#libs/common';
import { BmcFleet } from '#libs/ipmi';
import { bytesTransferred, TestBrowser, terminalText } from '../../support/browser.js';
import { ConductorProcess } from '../../support/conductor-process.js';
import { uniquePrefix } from '../../support/fixtures.js';
import { RedisServer } from '../../support/redis-server.js';
import { waitFor } from '../../support/wait.js';

const PASSWORD = 'fleet-pw';

/**
 * The web console in Debian's Chromium: two conductors (127.0.0.1 and .2), a native-ipmi-socat node
 * on the fleet simulator, the page always loaded from the conductor that does NOT run the console
 * (so every byte goes through the relay), then that owner killed with SIGKILL.
 */
describe('web console in a real browser', () => {
  let redis: RedisServer;
  let fleet: BmcFleet;
  let conductors: ConductorProcess[] = [];
  let browser: TestBrowser;
  let uuid: string;
  let owner: ConductorProcess;
  let front: ConductorProcess;

  const bmc = () => fleet.bmc(1);
  const serving = async (via: ConductorProcess) => {
    const r = await via.api('GET', `/v1/nodes/${uuid}`);
    return r.body.driver_internal_info?.console_state === 'running' ? (r.body.conductor as string) : undefined;
  };

  beforeAll(async () => {
    redis = await RedisServer.start();
    fleet = await BmcFleet.start({ count: 1, password: PASSWORD, cipherSuites: [3, 17], namePrefix: 'web-n' });
    const prefix = uniquePrefix('web');
    conductors = await Promise.all(
      [1, 2].map((n) => ConductorProcess.start({ id: `w${n}`, address: `127.0.0.${n}`, redisUrl: redis.url, prefix, portRange: { start: 21000, stop: 21100 }, env: { SOLGATE_LOG_LEVEL: 'info' } })),
    );
    const r = await conductors[0].api('POST', '/v1/nodes', {
      name: 'web-n1',
      driver: 'ipmi',
      console_interface: 'native-ipmi-socat',
      driver_info: { ipmi_address: '127.0.0.1', ipmi_port: bmc().port, ipmi_username: 'admin', ipmi_password: PASSWORD, ipmi_cipher_suite: 17 },
    });
    expect(r.status).toBe(201);
    uuid = r.body.uuid;
    await conductors[0].api('PUT', `/v1/nodes/${uuid}/states/console`, { enabled: true });
    const id = await waitFor(() => serving(conductors[0]), { what: 'the console to serve' });
    owner = conductors.find((c) => c.opts.id === id)!;
    front = conductors.find((c) => c !== owner)!;
    browser = await TestBrowser.launch();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all(conductors.map((c) => c.dispose()));
    await fleet?.stop();
    await redis?.stop();
  });

  it('lists the node with its console state and owner, and searches', async () => {
    const page = await browser.newPage();
    await page.goto(`${front.apiUrl}/ui/`);
    const row = page.locator('#rows tr', { hasText: 'web-n1' });
    await expect(row.locator('.badge').textContent()).resolves.toBe('running');
    await expect(row.locator('td').nth(3).textContent()).resolves.toBe(owner.opts.id);
    await page.locator('#q').fill('no-such-node');
    await page.locator('#empty').waitFor({ state: 'visible' });
    await page.locator('#q').fill('web-n');
    await row.waitFor();
    // keyboard only: "/" focuses the search box, Tab reaches the node link, Enter opens the console
    await page.locator('body').click({ position: { x: 5, y: 300 } });
    await page.keyboard.press('/');
    expect(await page.evaluate<string>('document.activeElement.id')).toBe('q');
    await page.locator('#rows a').first().focus();
    await Promise.all([page.waitForURL(/\/ui\/nodes\/.+\/console$/), page.keyboard.press('Enter')]);
    await page.close();
  });

  let tab1: Page;

  it('opens the console through a conductor that relays to the owner: login prompt, keystrokes reach the node', async () => {
    tab1 = await browser.newPage();
    await tab1.goto(`${front.apiUrl}/ui/nodes/web-n1/console`);
    await waitFor(async () => (await tab1.locator('#conn').getAttribute('data-state')) === 'attached', { what: 'the page to attach' });
    expect(await tab1.locator('#conn').textContent()).toBe(`Connected to ${owner.opts.id} via ${front.opts.id}`);
    expect(await tab1.locator('#lock').getAttribute('data-writer')).toBe('true');
    await tab1.locator('#terminal').click();
    await tab1.keyboard.press('Enter');
    await waitFor(async () => (await terminalText(tab1)).includes('web-n1 login:'), { what: 'the login prompt in the terminal' });
    await tab1.keyboard.type('root');
    await tab1.keyboard.press('Enter');
    await waitFor(() => bmc().serial.received.includes('root\r'), { what: 'the keystrokes to reach the node' });
    await waitFor(async () => /web-n1 login: root/.test(await terminalText(tab1)), { what: 'the echo' });
    const dir = join(packageRoot(), '.artifacts');
    mkdirSync(dir, { recursive: true });
    await tab1.screenshot({ path: join(dir, 'web-console.png') });
    copyFileSync(join(dir, 'web-console.png'), join(packageRoot(), 'docs', 'images', 'web-console.png'));
  });

  it('loads at most 300 KB (gzipped) for the console page', async () => {
    const page = await browser.newPage();
    const bytes = await bytesTransferred(page, `${front.apiUrl}/ui/nodes/web-n1/console`);
    process.stdout.write(`console page, first visit: ${(bytes / 1024).toFixed(1)} KiB transferred\n`);
    expect(bytes).toBeGreaterThan(20_000); // xterm.js came over the wire...
    expect(bytes).toBeLessThanOrEqual(300 * 1024); // ...compressed, within the budget
    await page.close();
  });

  it('keeps a second tab opened read-only from typing into the node', async () => {
    const tab2 = await browser.newPage();
    await tab2.goto(`${front.apiUrl}/ui/nodes/web-n1/console?read-only`);
    await waitFor(async () => (await tab2.locator('#conn').getAttribute('data-state')) === 'attached', { what: 'tab 2 to attach' });
    expect(await tab2.locator('#lock').getAttribute('data-writer')).toBe('false');
    expect(await tab2.locator('#break').isDisabled()).toBe(true);
    bmc().serial.received = '';
    await tab2.locator('#terminal').click();
    await tab2.keyboard.type('from-tab-2');
    await tab1.locator('#terminal').click();
    await tab1.keyboard.type('from-tab-1');
    await waitFor(() => bmc().serial.received.includes('from-tab-1'), { what: 'tab 1 keystrokes' });
    expect(bmc().serial.received).not.toContain('from-tab-2');
    await tab2.close();
  });

  it('reconnects by itself when the owner is killed with SIGKILL, to the survivor, and says so', async () => {
    bmc().print('\r\nbefore-the-crash\r\n');
    await waitFor(async () => (await terminalText(tab1)).includes('before-the-crash'), { what: 'output before the crash' });
    await owner.kill9();
    await waitFor(async () => /reconnecting/.test(await terminalText(tab1)), { what: 'the page to say it reconnects' });
    await waitFor(async () => (await tab1.locator('#conn').textContent()) === `Connected to ${front.opts.id}`, { timeoutMs: 20_000, what: 'the page to reattach to the survivor' });
    expect(await terminalText(tab1)).toMatch(/\[solgate: reconnected: console on /);
    // the survivor serves it: keystrokes reach the node again
    await tab1.locator('#terminal').click();
    await tab1.keyboard.type('after');
    await waitFor(() => bmc().serial.received.includes('after'), { what: 'keystrokes after the takeover' });
    expect(await serving(front)).toBe(front.opts.id);
  });
});
