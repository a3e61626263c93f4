// Makes sure Debian's Chromium is installed: Playwright's own browser download cannot
// work on machines without internet, so the e2e tests drive the system package.
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const CHROMIUM = process.env.HEARTH_CHROMIUM ?? '/usr/bin/chromium';

export function ensureChromium() {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const install = 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium';
  if (!isRoot) {
    console.error(`Chromium is missing. Install it with:\n  sudo sh -c '${install}'`);
    process.exit(1);
  }
  console.log(`Chromium is missing; installing Debian's chromium: ${install}`);
  execSync(install, { stdio: 'inherit', shell: '/bin/sh' });
  if (!existsSync(CHROMIUM)) {
    console.error(`apt-get finished but ${CHROMIUM} is still missing.`);
    process.exit(1);
  }
  return CHROMIUM;
}

if (import.meta.url === `file://${process.argv[1]}`) ensureChromium();
