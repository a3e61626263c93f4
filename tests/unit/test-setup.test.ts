/**
 * Under `npm test` a missing test dependency fails the run instead of skipping its tests
 * (helpers/required.ts); elsewhere it skips with a warning.
 */
import { describe, expect, it, vi } from 'vitest';
import { skipWithout } from './helpers/required';

describe('a missing test dependency', () => {
  it('fails the full suite, saying what is missing and how to install it', () => {
    expect(() => skipWithout(false, "Debian's python3-opencv", 'apt-get install -y python3-opencv', true)).toThrow(
      /python3-opencv is missing, and npm test runs every test: apt-get install -y python3-opencv/,
    );
  });

  it('skips with a warning outside the full suite', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    expect(skipWithout(false, 'WebGPU in Node (Dawn on SwiftShader)', 'install chromium', false)).toBe(true);
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/Skipping the tests that need WebGPU in Node/));
    warn.mockRestore();
  });

  it('runs the tests when it is there', () => {
    expect(skipWithout(true, 'anything', '', true)).toBe(false);
  });
});
