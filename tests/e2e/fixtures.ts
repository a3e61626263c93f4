/**
 * The shared Playwright fixture for every e2e spec: `import { test, expect } from './fixtures'`.
 *
 * It holds the studio's promise, "no image leaves the device", against the real browser:
 * every request the pages, their workers and the service worker make is recorded, and
 * after each test none may have left the page's origin. It also fails a test on an
 * uncaught page error or a Content-Security-Policy violation, which would otherwise only
 * show up as a feature that silently does nothing.
 */
import { test as base, expect, type ConsoleMessage, type Page, type Request } from '@playwright/test';

/** Schemes that never reach a network: inline data and object URLs made in the page. */
const LOCAL_SCHEMES = new Set(['data:', 'blob:']);
/** Chromium's wording for CSP refusals in the console ("Refused to load …", "… Content Security Policy …"). */
const CSP_CONSOLE_PATTERN = /content security policy|refused to (load|connect|execute|evaluate|create|frame|apply)/i;

export interface RequestRecord {
  url: string;
  /** Who made it: the service worker, or a page of the test (its frames and workers included). */
  source: 'page' | 'service-worker';
}

interface Guard {
  /** Every request seen so far in this test, in order. */
  requests: RequestRecord[];
}

export const test = base.extend<{ networkGuard: Guard }>({
  networkGuard: [
    async ({ context, page, baseURL }, use) => {
      if (!baseURL) throw new Error('playwright.config.ts must set use.baseURL: the guard compares origins against it.');
      const origin = new URL(baseURL).origin;
      const requests: RequestRecord[] = [];
      const seen = new WeakSet<Request>();
      const problems: string[] = [];

      const record = (request: Request): void => {
        // The same request is reported by both the page and the context; keep it once.
        if (seen.has(request)) return;
        seen.add(request);
        requests.push({ url: request.url(), source: request.serviceWorker() ? 'service-worker' : 'page' });
      };
      const watchPage = (p: Page): void => {
        p.on('request', record);
        p.on('pageerror', (err) => problems.push(`uncaught error in ${p.url()}: ${err.name}: ${err.message}`));
        p.on('console', (msg: ConsoleMessage) => {
          if (msg.type() === 'error' && CSP_CONSOLE_PATTERN.test(msg.text())) {
            problems.push(`CSP violation in ${p.url()}: ${msg.text()}`);
          }
        });
      };

      watchPage(page);
      context.on('page', (p) => {
        if (p !== page) watchPage(p);
      });
      // The context also reports requests of the service worker (and of pages opened later).
      context.on('request', record);

      await use({ requests });

      const offOrigin = requests.filter(({ url }) => {
        const parsed = new URL(url);
        return !LOCAL_SCHEMES.has(parsed.protocol) && parsed.origin !== origin;
      });
      expect(offOrigin, `requests left ${origin}`).toEqual([]);
      expect(problems, 'page errors or CSP violations').toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };
