import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type BrowserContext, type Frame, type Page } from 'playwright-core';
import { clusterWorkflowId } from '../../src/shared/ids';
import { waitFor } from './waitFor';

/**
 * The Temporal Web UI in a real browser: Debian's Chromium driven by playwright-core (never a
 * downloaded browser), only loopback reachable. Screenshots land in test-artifacts/.
 */
export const ARTIFACTS = path.join(__dirname, '..', '..', 'test-artifacts');

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface UiBrowser {
  page: Page;
  /** Requests the UI made off loopback, which were blocked. */
  offLoopback: string[];
  close: () => Promise<void>;
}

export async function openUiBrowser(): Promise<UiBrowser> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-chromium-'));
  let browser: BrowserContext | undefined;
  try {
    browser = await chromium.launchPersistentContext(profileDir, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1400, height: 1000 },
    });
  } catch (err) {
    fs.rmSync(profileDir, { recursive: true, force: true });
    throw err;
  }
  const page = browser.pages()[0] ?? (await browser.newPage());
  const offLoopback: string[] = [];
  // The UI is served from loopback; anything else it might ask for (news, fonts) stays unasked.
  await page.route('**/*', (route) => {
    const { hostname, href } = new URL(route.request().url());
    if (hostname === '127.0.0.1' || hostname === 'localhost') return route.continue();
    offLoopback.push(href);
    return route.abort();
  });
  return {
    page,
    offLoopback,
    close: async () => {
      await browser.close();
      fs.rmSync(profileDir, { recursive: true, force: true });
    },
  };
}

/** The UI renders summaries and details as markdown in sandboxed iframes. */
export async function frameWithText(page: Page, text: string, timeoutMs = 30_000): Promise<Frame> {
  return waitFor(
    async () => {
      for (const frame of page.frames()) {
        const body = await frame
          .locator('body')
          .innerText({ timeout: 1000 })
          .catch(() => '');
        if (body.includes(text)) return frame;
      }
      return undefined;
    },
    { timeout: timeoutMs, interval: 250, what: `a frame of ${page.url()} to show "${text}"` },
  );
}

/**
 * Finds the cluster workflow by its DeployCluster search attribute, opens it, and reads the host
 * × phase table of its current details ("<cluster> — ready"); returns the screenshot files.
 */
export async function browseCluster(uiUrl: string, cluster: string, label: string): Promise<string[]> {
  const ui = await openUiBrowser();
  try {
    const { page } = ui;
    const query = encodeURIComponent(`DeployCluster="${cluster}"`);
    const row = page.getByRole('link', { name: clusterWorkflowId(cluster), exact: true }).first();
    // The list is read once per page load: loaded again until visibility has the run (it lags
    // behind a loaded machine, or a database that was just down).
    await waitFor(
      async () => {
        await page.goto(`${uiUrl}/namespaces/default/workflows?query=${query}`);
        return row.waitFor({ timeout: 15_000 }).then(
          () => true,
          () => false,
        );
      },
      { timeout: 90_000, interval: 0, what: `the Web UI to list ${clusterWorkflowId(cluster)}` },
    );
    const list = path.join(ARTIFACTS, `webui-${label}-list.png`);
    await page.screenshot({ path: list });
    await row.click();
    await page.waitForURL(new RegExp(`/workflows/${encodeURIComponent(clusterWorkflowId(cluster))}/`));
    await page.getByRole('tab', { name: 'User Metadata' }).click();
    const details = await frameWithText(page, `${cluster} — ready`);
    const table = await details.locator('table').innerText();
    assert.match(table, /\brun_server\b/, 'the details table has the phases');
    const shot = path.join(ARTIFACTS, `webui-${label}-cluster.png`);
    await page.screenshot({ path: shot });
    console.log(`requests off loopback blocked: ${ui.offLoopback.length}`);
    return [list, shot];
  } finally {
    await ui.close();
  }
}
