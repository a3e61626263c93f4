import { describe, expect, it } from 'vitest';
import { formatBytes, formatCount, formatDuration, formatEta, formatSampleNumber } from '../../src/ui/format';
import { SampleNumbers } from '../../src/ui/shared/sample-numbers.svelte';
import { formatP, formatPoints, formatPointsInterval, formatRateOf, formatRatioInterval } from '../../src/ui/shared/metric';

describe('formatEta', () => {
  it('is null while the time left is unknown', () => {
    expect(formatEta(null)).toBeNull();
    expect(formatEta(Number.POSITIVE_INFINITY)).toBeNull();
  });
  it('rounds up seconds and switches units at a minute and an hour', () => {
    expect(formatEta(200)).toBe('about 1 s left');
    expect(formatEta(11_200)).toBe('about 12 s left');
    expect(formatEta(59_000)).toBe('about 59 s left');
    expect(formatEta(185_000)).toBe('about 3 min left');
    expect(formatEta(3_600_000)).toBe('about 1 h left');
    expect(formatEta(3_900_000)).toBe('about 1 h 5 min left');
  });
});

describe('formatBytes', () => {
  it('uses binary units with one decimal below 100', () => {
    expect(formatBytes(812)).toBe('812 B');
    expect(formatBytes(3.4 * 1024 * 1024)).toBe('3.4 MB');
    expect(formatBytes(150 * 1024)).toBe('150 KB');
    expect(formatBytes(null)).toBe('unknown');
  });
});

describe('formatCount and formatDuration', () => {
  it('groups thousands and reads durations as people say them', () => {
    expect(formatCount(70_000)).toBe('70,000');
    expect(formatDuration(12_400)).toBe('12 s');
    expect(formatDuration(184_000)).toBe('3 min 4 s');
  });
});

describe('sample numbers', () => {
  it('shows a sample by its number in the project, never by its id', () => {
    expect(formatSampleNumber(12)).toBe('#12');
    expect(formatSampleNumber(undefined)).toBe('#…');
    expect(formatSampleNumber(null)).toBe('(removed)');
  });

  it('reads the numbers a render asks for in one call, once', async () => {
    const calls: number[][] = [];
    const numbers = new SampleNumbers({
      sampleNumbers: async (ids) => {
        calls.push([...ids]);
        return ids.map((id) => (id === 2176 ? 14 : id === 99 ? null : id + 100));
      },
      sampleIdOfNumber: async (_projectId, number) => (number === 14 ? 2176 : null),
    });
    expect([numbers.of(2176), numbers.of(99), numbers.of(2176), numbers.of(5)]).toEqual([undefined, undefined, undefined, undefined]);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(calls).toEqual([[2176, 99, 5]]);
    expect([numbers.of(2176), numbers.of(99), numbers.of(5)]).toEqual([14, null, 105]);
    expect(await numbers.numberOf(5)).toBe(105);
    expect(calls.length).toBe(1);
    expect(await numbers.idOf('p', 14)).toBe(2176);
    expect(await numbers.idOf('p', 15)).toBeNull();
  });
});

describe('gap formatting', () => {
  it('writes differences and intervals in signed points with one decimal', () => {
    expect(formatPoints(0.124)).toBe('+12.4 points');
    expect(formatPoints(-0.0312)).toBe('\u22123.1 points');
    expect(formatPoints(0.00004)).toBe('±0.0 points');
    expect(formatPoints(-0.18, false)).toBe('18.0 points');
    expect(formatPointsInterval({ low: -0.031, high: 0.1244 })).toBe('\u22123.1 to +12.4 points');
    expect(formatRateOf(31, 50)).toBe('62.0% (31/50)');
    expect(formatRatioInterval({ low: 0.350784, high: 1.026272 })).toBe('0.35 to 1.03');
    expect(formatRatioInterval(null)).toBe('—');
    expect(formatP(0.0241)).toBe('p = 0.02');
    expect(formatP(0.00804)).toBe('p = 0.008');
    expect(formatP(0.00004)).toBe('p < 0.001');
    expect(formatP(3)).toBe('p = 1');
  });
});
