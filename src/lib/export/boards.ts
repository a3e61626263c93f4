import type { BoardFit } from '../storage/stored-shapes';
export type { BoardFit } from '../storage/stored-shapes';
/**
 * Flash and RAM budgets of the boards Hearth exports for, and a check that a model and
 * its tensor arena fit with room left for the firmware around them.
 *
 * Sizes are the chip's (or the usual dev board's) totals, from the vendors' datasheets
 * and product pages; `notes` says what eats into them on that board. Units: bytes,
 * with KiB = 1024 and MiB = 1024 · 1024 as the datasheets use them.
 */

const KIB = 1024;
const MIB = 1024 * KIB;

export interface Board {
  id: string;
  name: string;
  flashBytes: number;
  ramBytes: number;
  notes: string;
}

export const BOARDS: readonly Board[] = [
  {
    id: 'esp32-s3',
    name: 'ESP32-S3 (DevKitC-1 N8)',
    flashBytes: 8 * MIB,
    ramBytes: 512 * KIB,
    notes:
      'ESP32-S3 has 512 KB of internal SRAM, part of it taken by the instruction cache and, with Wi-Fi or BLE on, by their stacks; ' +
      'boards with PSRAM (N8R2, N8R8) can hold a larger arena there, more slowly. Flash is the module\'s (8 MB on the N8).',
  },
  {
    id: 'nano-33-ble-sense',
    name: 'Arduino Nano 33 BLE Sense (nRF52840)',
    flashBytes: 1 * MIB,
    ramBytes: 256 * KIB,
    notes:
      'nRF52840: 1 MB flash, 256 KB RAM. The Arduino core runs on Mbed OS, which takes a noticeable share of both; ' +
      "its Cortex-M4F has the DSP extension that TFLM's CMSIS-NN kernels use, where the TFLM build includes them.",
  },
  {
    id: 'rp2040-pico',
    name: 'Raspberry Pi Pico (RP2040)',
    flashBytes: 2 * MIB,
    ramBytes: 264 * KIB,
    notes:
      'RP2040: 264 KB SRAM; the Pico carries 2 MB of QSPI flash. Cortex-M0+ has no DSP instructions, so TFLM runs its reference ' +
      'kernels: expect slow convolutions. Use the C array with the pico-sdk TFLM port.',
  },
  {
    id: 'stm32f746-disco',
    name: 'STM32F746G-DISCO (STM32F746NG)',
    flashBytes: 1 * MIB,
    ramBytes: 320 * KIB,
    notes:
      'STM32F746NG: 1 MB flash, 320 KB SRAM (the Discovery board adds 8 MB SDRAM and 16 MB QSPI flash, usable for large arenas ' +
      'and models with board-specific setup). Cortex-M7: CMSIS-NN kernels.',
  },
  {
    id: 'openmv-h7',
    name: 'OpenMV Cam H7 (STM32H743VI)',
    flashBytes: 2 * MIB,
    ramBytes: 1 * MIB,
    notes:
      'STM32H743VI: 2 MB flash, 1 MB SRAM, but the OpenMV firmware (MicroPython, frame buffer) keeps most of both: models are ' +
      'loaded from the SD card or filesystem as .tflite and run from the frame-buffer heap, so the numbers here are an upper bound.',
  },
];

/**
 * Flash kept for everything but the model: the TFLM runtime with the kernels a small CNN
 * needs (about 100 KB with CMSIS-NN), the board core (Arduino/Mbed, ESP-IDF: 100 KB or
 * more) and the application. Half of that is margin: a model that needs it is too close.
 */
export const FIRMWARE_FLASH_RESERVE_BYTES = 256 * KIB;
/**
 * RAM kept for everything but the tensor arena: stacks, the heap, the core's buffers
 * (USB serial, RTOS), globals, and a camera frame the application reads pixels from
 * (a 96×96 RGB frame alone is 27 KB).
 */
export const FIRMWARE_RAM_RESERVE_BYTES = 96 * KIB;
/** Above this fraction of a board's flash or RAM, the fit is reported as tight. */
export const TIGHT_FRACTION = 0.85;

function formatBytes(bytes: number): string {
  if (bytes >= MIB) return `${(bytes / MIB).toFixed(2)} MB`;
  if (bytes >= KIB) return `${(bytes / KIB).toFixed(1)} KB`;
  return `${bytes} B`;
}

export function fitOnBoard(board: Board, sizes: { modelBytes: number; arenaBytes: number }): BoardFit {
  const flashUsed = sizes.modelBytes + FIRMWARE_FLASH_RESERVE_BYTES;
  const ramUsed = sizes.arenaBytes + FIRMWARE_RAM_RESERVE_BYTES;
  const flashFraction = flashUsed / board.flashBytes;
  const ramFraction = ramUsed / board.ramBytes;
  const problems: string[] = [];
  const bigger = (what: 'flash' | 'RAM', need: number): string => {
    const key: keyof Board = what === 'flash' ? 'flashBytes' : 'ramBytes';
    const options = BOARDS.filter((b) => b.id !== board.id && b[key] >= need).map((b) => b.name);
    return options.length > 0 ? `, or use a board with more ${what} (${options.join('; ')})` : '';
  };

  if (flashUsed > board.flashBytes) {
    problems.push(
      `The model (${formatBytes(sizes.modelBytes)}) and ${formatBytes(FIRMWARE_FLASH_RESERVE_BYTES)} kept for the firmware need ` +
        `${formatBytes(flashUsed)} of flash; ${board.name} has ${formatBytes(board.flashBytes)}. Pick a smaller model or a lower width multiplier` +
        `${bigger('flash', flashUsed)}.`,
    );
  } else if (flashFraction > TIGHT_FRACTION) {
    problems.push(
      `Flash is tight: ${Math.round(flashFraction * 100)}% of ${board.name}'s ${formatBytes(board.flashBytes)} counting the firmware reserve. ` +
        'It may fit; a smaller model leaves room for the application to grow.',
    );
  }
  if (ramUsed > board.ramBytes) {
    problems.push(
      `The tensor arena (${formatBytes(sizes.arenaBytes)}) and ${formatBytes(FIRMWARE_RAM_RESERVE_BYTES)} kept for stack, heap and a camera ` +
        `frame need ${formatBytes(ramUsed)} of RAM; ${board.name} has ${formatBytes(board.ramBytes)}. Use a smaller input size, a lower ` +
        `width multiplier or a model that downsamples earlier${bigger('RAM', ramUsed)}.`,
    );
  } else if (ramFraction > TIGHT_FRACTION) {
    problems.push(
      `RAM is tight: ${Math.round(ramFraction * 100)}% of ${board.name}'s ${formatBytes(board.ramBytes)} counting the firmware reserve. ` +
        'Check the arena size the example sketch prints on the board before building on it.',
    );
  }
  return { fits: flashUsed <= board.flashBytes && ramUsed <= board.ramBytes, flashUsed, ramUsed, flashFraction, ramFraction, problems };
}
