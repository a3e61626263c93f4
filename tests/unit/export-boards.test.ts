import { describe, expect, it } from 'vitest';
import { BOARDS, FIRMWARE_FLASH_RESERVE_BYTES, FIRMWARE_RAM_RESERVE_BYTES, fitOnBoard, type Board } from '../../src/lib/export/boards';

const board = (id: string): Board => {
  const b = BOARDS.find((x) => x.id === id);
  if (!b) throw new Error(`no board ${id}`);
  return b;
};

describe('BOARDS', () => {
  it('lists the five boards with their datasheet sizes', () => {
    const sizes = Object.fromEntries(BOARDS.map((b) => [b.id, [b.flashBytes / 1024, b.ramBytes / 1024]]));
    expect(sizes).toEqual({
      'esp32-s3': [8192, 512],
      'nano-33-ble-sense': [1024, 256],
      'rp2040-pico': [2048, 264],
      'stm32f746-disco': [1024, 320],
      'openmv-h7': [2048, 1024],
    });
    expect(new Set(BOARDS.map((b) => b.id)).size).toBe(BOARDS.length);
    for (const b of BOARDS) expect(b.notes.length).toBeGreaterThan(20);
  });
});

describe('fitOnBoard', () => {
  it('fits a small model with room to spare and reports no problem', () => {
    const fit = fitOnBoard(board('esp32-s3'), { modelBytes: 100_000, arenaBytes: 50_000 });
    expect(fit.fits).toBe(true);
    expect(fit.flashUsed).toBe(100_000 + FIRMWARE_FLASH_RESERVE_BYTES);
    expect(fit.ramUsed).toBe(50_000 + FIRMWARE_RAM_RESERVE_BYTES);
    expect(fit.flashFraction).toBeCloseTo((100_000 + FIRMWARE_FLASH_RESERVE_BYTES) / (8 * 1024 * 1024), 12);
    expect(fit.problems).toEqual([]);
  });

  it('rejects an arena the RAM cannot hold and names boards that can', () => {
    const fit = fitOnBoard(board('nano-33-ble-sense'), { modelBytes: 200_000, arenaBytes: 300 * 1024 });
    expect(fit.fits).toBe(false);
    expect(fit.ramFraction).toBeGreaterThan(1);
    expect(fit.problems).toHaveLength(1);
    expect(fit.problems[0]).toMatch(/smaller input size, a lower width multiplier/);
    expect(fit.problems[0]).toContain('ESP32-S3');
    expect(fit.problems[0]).toContain('OpenMV Cam H7');
    const suggested = /use a board with more RAM \((.*)\)\.$/.exec(fit.problems[0] ?? '')?.[1] ?? '';
    expect(suggested.split('; ')).toEqual(['ESP32-S3 (DevKitC-1 N8)', 'OpenMV Cam H7 (STM32H743VI)']);
  });

  it('rejects a model the flash cannot hold and says to pick a smaller model', () => {
    const fit = fitOnBoard(board('stm32f746-disco'), { modelBytes: 900 * 1024, arenaBytes: 10_000 });
    expect(fit.fits).toBe(false);
    expect(fit.flashUsed).toBeGreaterThan(1024 * 1024);
    expect(fit.problems[0]).toMatch(/Pick a smaller model or a lower width multiplier/);
  });

  it('fits but warns when RAM is above the tight fraction', () => {
    const pico = board('rp2040-pico');
    const arenaBytes = Math.floor(pico.ramBytes * 0.95) - FIRMWARE_RAM_RESERVE_BYTES;
    const fit = fitOnBoard(pico, { modelBytes: 10_000, arenaBytes });
    expect(fit.fits).toBe(true);
    expect(fit.problems).toHaveLength(1);
    expect(fit.problems[0]).toMatch(/RAM is tight: 95%/);
  });

  it('offers no bigger board when none is big enough', () => {
    const fit = fitOnBoard(board('openmv-h7'), { modelBytes: 1000, arenaBytes: 4 * 1024 * 1024 });
    expect(fit.fits).toBe(false);
    expect(fit.problems[0]).not.toMatch(/use a board with more/);
  });
});
