import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { packageRoot } from '#libs/common';
import { Redis } from 'ioredis';
import { BmcFleet } from '#libs/ipmi';
import { ConsoleLogRepository } from '#libs/nodes';
import { Keys } from '#libs/redis';
import { bytesTransferred, TestBrowser, terminalText } from '../../support/browser.js';
import { ConductorProcess } from '../../support/conductor-process.js';
import { ConsoleClient } from '../../support/console-client.js';
import { uniquePrefix } from '../../support/fixtures.js';
import { RedisServer } from '../../support/redis-server.js';
import { waitFor } from '../../support/wait.js';

const PASSWORD = 'fleet-pw';

/**
 * The web console in Debian's Chromium: two conductors (127.0.0.1 and .2), a native-ipmi-socat node
 * on the fleet simulator, the page always loaded from the conductor that does NOT run the console
 * (so every byte goes through the relay), two tabs and a TCP client sharing the node's broker, then
 * that owner killed with SIGKILL and the page reattached to the survivor, which replays the history
 * its predecessor left in Redis.
 */
describe('web console in a real browser', () => {
  let redis: RedisServer;
  let fleet: BmcFleet;
  let conductors: ConductorProcess[] = [];
  let browser: TestBrowser;
  let uuid: string;
  let owner: ConductorProcess;
  let front: ConductorProcess;
  let prefix: string;
  let redisClient: Redis;

  const bmc = () => fleet.bmc(1);
  const serving = async (via: ConductorProcess) => {
    const r = await via.api('GET', `/v1/nodes/${uuid}`);
    return r.body.driver_internal_info?.console_state === 'running' ? (r.body.conductor as string) : undefined;
  };

  beforeAll(async () => {
    redis = await RedisServer.start();
    fleet = await BmcFleet.start({ count: 1, password: PASSWORD, cipherSuites: [3, 17], namePrefix: 'web-n' });
    prefix = uniquePrefix('web');
    redisClient = new Redis(redis.url);
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
    redisClient?.disconnect();
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
    // the first viewer holds the write lock (the lock message may follow the hello)
    await waitFor(async () => (await tab1.locator('#lock').getAttribute('data-writer')) === 'true', { what: `tab 1 to hold the write lock: ${await tab1.locator('#lock').textContent()}` });
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

  it('makes a second tab read-only because the first holds the write lock; it sees the output; take, force, release and who work', async () => {
    const tab2 = await browser.newPage();
    await tab2.goto(`${front.apiUrl}/ui/nodes/web-n1/console`);
    await waitFor(async () => (await tab2.locator('#conn').getAttribute('data-state')) === 'attached', { timeoutMs: 30_000, what: 'tab 2 to attach' });
    // read-only because tab 1 holds the lock (no ?read-only in the URL), and told so
    expect(await tab2.locator('#lock').getAttribute('data-writer')).toBe('false');
    expect(await tab2.locator('#break').isDisabled()).toBe(true);
    expect(await tab2.locator('#take').isDisabled()).toBe(false);
    await waitFor(async () => /read-only: .* holds the write lock/.test(await terminalText(tab2)), { what: 'the read-only notice in tab 2' });
    // a Nova-style TCP client of the same console, through socat and the broker's relay
    const url = (await front.api('GET', `/v1/nodes/${uuid}/states/console`)).body.console_info.url as string;
    const nova = await ConsoleClient.connect(url);
    try {
      // the node's output reaches every viewer: both tabs and the TCP client
      bmc().print('\r\nshared-output-1\r\n');
      await waitFor(async () => (await terminalText(tab2)).includes('shared-output-1'), { what: 'tab 2 to see the node output' });
      await waitFor(async () => (await terminalText(tab1)).includes('shared-output-1'), { what: 'tab 1 to see the node output' });
      await nova.waitFor('shared-output-1');

      // only the writer's keystrokes reach the node
      bmc().serial.received = '';
      await tab2.locator('#terminal').click();
      await tab2.keyboard.type('from-tab-2');
      await tab1.locator('#terminal').click();
      await tab1.keyboard.type('from-tab-1');
      await waitFor(() => bmc().serial.received.includes('from-tab-1'), { what: 'tab 1 keystrokes' });
      // tab 2 sees what tab 1 typed (the node echoes it)
      await waitFor(async () => (await terminalText(tab2)).includes('from-tab-1'), { what: 'tab 2 to see the echo of tab 1' });
      expect(bmc().serial.received).not.toContain('from-tab-2');

      // who: both tabs and the TCP client, tab 1 writing
      await tab1.locator('#who-toggle').click();
      await waitFor(async () => (await tab1.locator('#who li').count()) === 3, { what: 'three viewers in the who list' });
      expect(await tab1.locator('#who-count').textContent()).toBe('3');
      const who = await tab1.locator('#who li').allTextContents();
      expect(who.filter((t) => / · writing$/.test(t))).toEqual([expect.stringMatching(/^you · web/)]);
      expect(who.some((t) => / · tcp/.test(t))).toBe(true);

      // Take write while tab 1 holds it: refused, tab 2 is told
      await tab2.locator('#take').click();
      await waitFor(async () => /write lock is held by another client/.test(await terminalText(tab2)), { what: 'take refused' });
      expect(await tab2.locator('#lock').getAttribute('data-writer')).toBe('false');
      // Force write: tab 2 writes, tab 1 is read-only and told
      await tab2.locator('#force').click();
      await waitFor(async () => (await tab2.locator('#lock').getAttribute('data-writer')) === 'true', { what: 'tab 2 to hold the lock' });
      await waitFor(async () => (await tab1.locator('#lock').getAttribute('data-writer')) === 'false', { what: 'tab 1 to lose the lock' });
      await waitFor(async () => /write lock taken by .* \(forced\)/.test(await terminalText(tab1)), { what: 'tab 1 told of the forced take' });
      expect(await tab2.locator('#break').isDisabled()).toBe(false);
      expect(await tab1.locator('#break').isDisabled()).toBe(true);
      bmc().serial.received = '';
      await tab1.locator('#terminal').click();
      await tab1.keyboard.type('tab1-now-readonly');
      await tab2.locator('#terminal').click();
      await tab2.keyboard.type('tab2-writes');
      await waitFor(() => bmc().serial.received.includes('tab2-writes'), { what: 'tab 2 keystrokes after forcing' });
      expect(bmc().serial.received).not.toContain('tab1-now-readonly');
      // Release: the lock passes to the longest-attached viewer, tab 1
      await tab2.locator('#release').click();
      await waitFor(async () => (await tab1.locator('#lock').getAttribute('data-writer')) === 'true', { what: 'the lock back at tab 1' });
      expect(await tab2.locator('#lock').getAttribute('data-writer')).toBe('false');
      await tab1.locator('#who-refresh').click();
      await waitFor(async () => (await tab1.locator('#who li.writer').allTextContents()).join() .startsWith('you · web'), { what: 'who to show tab 1 writing' });
      await tab1.locator('#who-toggle').click();
    } finally {
      nova.socket.destroy();
      await tab2.close();
    }
    // the broker publishes its viewers: the node list shows the count
    await waitFor(async () => (await front.api('GET', `/ui/api/nodes?q=web-n1`)).body.nodes?.[0]?.viewers === 1, { what: 'the node list to count one viewer' });
  });

  it('has manners: keyboard-only controls, copy and paste, dark and light themes, resizing harmless to SOL', async () => {
    const active = () => tab1.evaluate<string>(`(document.activeElement && (document.activeElement.id || document.activeElement.className)) || ''`);
    // keyboard: Ctrl+Shift+L from the terminal to the controls (Take write is disabled: tab 1 writes)...
    await tab1.locator('#terminal').click();
    expect(await active()).toMatch(/xterm-helper-textarea/);
    await tab1.keyboard.press('Control+Shift+L');
    expect(await active()).toBe('who-toggle');
    // ... Enter opens the who panel, Tab walks the controls, Ctrl+Shift+L goes back into the terminal
    await tab1.keyboard.press('Enter');
    expect(await tab1.locator('#who-panel').isVisible()).toBe(true);
    expect(await tab1.locator('#who-toggle').getAttribute('aria-expanded')).toBe('true');
    await tab1.keyboard.press('Enter');
    expect(await tab1.locator('#who-panel').isHidden()).toBe(true);
    await tab1.keyboard.press('Tab');
    expect(await active()).not.toBe('who-toggle');
    await tab1.keyboard.press('Control+Shift+L');
    expect(await active()).toMatch(/xterm-helper-textarea/);
    // the connection state is always visible, in words
    expect(await tab1.locator('#conn').isVisible()).toBe(true);
    expect(await tab1.locator('#conn').textContent()).toMatch(/^Connected to /);

    // copy: a word selected with a double click; paste: typed into the node as if typed
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: front.apiUrl });
    bmc().print('\r\ncopyme4711\r\n');
    const row = tab1.locator('.xterm-rows > div', { hasText: 'copyme4711' }).last();
    await row.waitFor();
    // (the terminal's screen layer takes the pointer events: click where the row is, as a user does)
    const box = (await row.boundingBox())!;
    await tab1.mouse.dblclick(box.x + 12, box.y + box.height / 2);
    await tab1.locator('#copy').click();
    await waitFor(async () => (await tab1.evaluate<string>('navigator.clipboard.readText()')) === 'copyme4711', { what: 'the selection in the clipboard' });
    await tab1.evaluate('navigator.clipboard.writeText("pasted-line")');
    bmc().serial.received = '';
    await tab1.locator('#paste').click();
    await waitFor(() => bmc().serial.received.includes('pasted-line'), { what: 'the pasted text to reach the node' });

    // themes: the page follows the system (dark here), the toggle switches both page and terminal
    // the terminal's colours, as xterm.js applies its theme (text colour of the rows)
    const bg = () => tab1.evaluate<string>(`getComputedStyle(document.querySelector('.xterm-rows')).color`);
    expect(await tab1.evaluate<string>('document.documentElement.dataset.theme')).toBe('dark');
    const darkBg = await bg();
    await tab1.locator('#theme').click();
    expect(await tab1.evaluate<string>('document.documentElement.dataset.theme')).toBe('light');
    await waitFor(async () => (await bg()) !== darkBg, { what: 'the terminal to take the light theme' });
    await tab1.locator('#theme').click();
    expect(await tab1.evaluate<string>('document.documentElement.dataset.theme')).toBe('dark');

    // a laptop screen holds at least 80x24; resizing changes the terminal only: nothing goes to the node
    const rows = () => tab1.evaluate<number>(`document.querySelectorAll('.xterm-rows > div').length`);
    expect(await rows()).toBeGreaterThanOrEqual(24);
    const cols = () => tab1.evaluate<number>(`Math.floor(document.querySelector('.xterm-screen').getBoundingClientRect().width / (document.querySelector('.xterm-rows > div').getBoundingClientRect().height * 0.6))`);
    expect(await cols()).toBeGreaterThanOrEqual(80);
    bmc().serial.received = '';
    const before = await rows();
    await tab1.setViewportSize({ width: 700, height: 420 });
    await waitFor(async () => (await rows()) < before, { what: 'the terminal to fit the smaller window' });
    await tab1.setViewportSize({ width: 1366, height: 768 });
    await waitFor(async () => (await rows()) === before, { what: 'the terminal to fit the window again' });
    expect(bmc().serial.received).toBe('');
    expect(await tab1.locator('#conn').getAttribute('data-state')).toBe('attached');
    bmc().print('\r\nafter-resize\r\n');
    await waitFor(async () => (await terminalText(tab1)).includes('after-resize'), { what: 'output after resizing' });
  });

  it('reconnects by itself when the owner is killed with SIGKILL, to the survivor, which replays the history', async () => {
    bmc().print('\r\nbefore-the-crash\r\n');
    await waitFor(async () => (await terminalText(tab1)).includes('before-the-crash'), { what: 'output before the crash' });
    // the broker's console log in Redis holds it (batched every ~50 ms): what the survivor replays
    const log = new ConsoleLogRepository(redisClient, new Keys(prefix));
    await waitFor(async () => Buffer.concat((await log.tail(uuid, 65536)).map((e) => e.data)).includes('before-the-crash'), { what: 'the output in the Redis console log' });
    await owner.kill9();
    await waitFor(async () => /reconnecting/.test(await terminalText(tab1)), { what: 'the page to say it reconnects' });
    await waitFor(async () => (await tab1.locator('#conn').textContent()) === `Connected to ${front.opts.id}`, { timeoutMs: 20_000, what: 'the page to reattach to the survivor' });
    // xterm.js renders asynchronously: the line and the replay follow the state pill by a frame or two
    await waitFor(async () => /\[solgate: reconnected: console on .*, history follows\]/.test(await terminalText(tab1)), { what: 'the page to say it reconnected' });
    // the survivor replayed what its predecessor captured, after the reconnect line
    await waitFor(async () => {
      const text = await terminalText(tab1);
      return text.slice(text.lastIndexOf('[solgate: reconnected')).includes('before-the-crash');
    }, { what: 'the survivor to replay the history' });
    // the survivor serves it: keystrokes reach the node again
    // the only viewer again: the write lock comes back with the reattach
    await waitFor(async () => (await tab1.locator('#lock').getAttribute('data-writer')) === 'true', { timeoutMs: 30_000, what: 'tab 1 to write on the survivor' });
    await tab1.locator('#terminal').click();
    await tab1.keyboard.type('after');
    await waitFor(() => bmc().serial.received.includes('after'), { timeoutMs: 30_000, what: 'keystrokes after the takeover' });
    expect(await serving(front)).toBe(front.opts.id);
  });
});
