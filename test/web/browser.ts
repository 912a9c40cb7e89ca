/**
 * Chromium for the dashboard tests: Debian's /usr/bin/chromium driven by playwright-core, never a
 * downloaded browser (DESIGN §10).
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Locator } from 'playwright-core';
import { REQUIRE_SERVICES } from '../helpers/services.js';

/** Debian's Chromium (`apt-get install chromium`). */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Whether Chromium is installed. When it is not: throws under EAS_REQUIRE_SERVICES=1 (CI),
 * otherwise prints why the browser suite is skipped and returns false.
 */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  const why = `${CHROMIUM} is missing (apt-get install chromium)`;
  if (REQUIRE_SERVICES) throw new Error(`${why}, and EAS_REQUIRE_SERVICES=1 forbids skipping.`);
  console.warn(`skipping browser suite: ${why}`);
  return false;
}

/** Launches headless Chromium with the flags a container needs. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** Waits until the locator's text contains `text` (or fails after the locator's timeout). */
export async function waitForText(
  locator: Locator,
  text: string,
  timeout = 15_000,
): Promise<string> {
  await locator.first().waitFor({ timeout });
  const deadline = Date.now() + timeout;
  for (;;) {
    const t = (await locator.first().textContent()) ?? '';
    if (t.includes(text)) return t;
    if (Date.now() > deadline) throw new Error(`"${text}" did not appear; the text is "${t}"`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
