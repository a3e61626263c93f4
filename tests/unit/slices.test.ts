import { describe, expect, it } from 'vitest';
import {
  evaluateSlices,
  formatPredicate,
  InvalidSliceError,
  matches,
  parsePredicate,
  parseSlicesJson,
  validatePredicate,
  validateSlices,
  type Slice,
  type SlicePredicate,
  type SliceSample,
} from '../../src/lib/evaluate/slices';
import { computeImageStats, EDGE_MAGNITUDE_THRESHOLD, opencvHue } from '../../src/lib/analysis/image-stats';

function sample(label: string | null, predicted: string, more: Partial<SliceSample> = {}): SliceSample {
  return { label, predicted, split: 'test', provenance: 'real', attributes: {}, ...more };
}

// Seven hand-made samples; the comment on each slice test lists which of them it selects.
const SAMPLES: SliceSample[] = [
  /* s1 */ sample('8', '8', { attributes: { color: 'red' }, stats: { brightness: 0.1 } }),
  /* s2 */ sample('8', '3', { attributes: { color: 'red' }, stats: { brightness: 0.2 } }),
  /* s3 */ sample('8', '8', { attributes: { color: 'blue' }, stats: { brightness: 0.1 }, split: 'train' }),
  /* s4 */ sample('3', '3', { attributes: { color: 'red' }, stats: { brightness: 0.9 } }),
  /* s5 */ sample(null, '8', { attributes: { color: 'red' }, stats: { brightness: 0.1 } }),
  /* s6 */ sample('8', '8', { stats: { brightness: 0.5 }, provenance: 'augmented' }),
  /* s7 */ sample('3', '8', { attributes: { color: 'red', age: '34' } }),
];

const slice = (id: string, predicate: SlicePredicate, minAccuracy = 0.5): Slice => ({ id, name: `slice ${id}`, predicate, minAccuracy });
const one = (predicate: SlicePredicate, minAccuracy = 0.5) => evaluateSlices([slice('x', predicate, minAccuracy)], SAMPLES)[0];

describe('evaluateSlices', () => {
  it('"digit 8 and color = red": s1 ✓, s2 ✗ (s5 unlabeled, not scored) → 1/2 = 0.5 < 0.6 fails', () => {
    const r = one(
      { all: [{ field: 'label', op: 'eq', value: '8' }, { field: 'attr', name: 'color', op: 'in', values: ['red'] }] },
      0.6,
    );
    expect(r).toMatchObject({ sliceId: 'x', name: 'slice x', n: 2, correct: 1, unlabeled: 0, minAccuracy: 0.6, status: 'fail' });
    expect(r?.accuracy).toEqual({ value: 0.5 });
  });

  it('"dark images" (brightness < 0.25): s1 ✓ s2 ✗ s3 ✓ (+ s5 unlabeled) → 2/3 passes 0.5; s7 has no stats', () => {
    const r = one({ field: 'stat', name: 'brightness', op: 'lt', value: 0.25 });
    expect(r).toMatchObject({ n: 3, correct: 2, unlabeled: 1, status: 'pass', missingStats: 1 });
    expect(r?.accuracy.value).toBeCloseTo(2 / 3, 12);
  });

  it('accuracy equal to the minimum passes', () => {
    expect(one({ field: 'stat', name: 'brightness', op: 'lt', value: 0.25 }, 2 / 3)?.status).toBe('pass');
  });

  it('nesting: any[label 3, not(color = red)] selects s3 ✓ s4 ✓ s6 ✓ (no colour) s7 ✗ → 3/4', () => {
    const r = one({
      any: [{ field: 'label', op: 'eq', value: '3' }, { not: { field: 'attr', name: 'color', op: 'eq', value: 'red' } }],
    });
    expect(r).toMatchObject({ n: 4, correct: 3, status: 'pass' });
    expect(r?.accuracy.value).toBe(0.75);
  });

  it('a missing value matches no condition, neq included: color != red selects s3 only, not s6', () => {
    expect(one({ field: 'attr', name: 'color', op: 'neq', value: 'red' })).toMatchObject({ n: 1, correct: 1 });
  });

  it('an empty slice is undefined with a reason, never NaN', () => {
    const r = one({ field: 'label', op: 'eq', value: 'cat' });
    expect(r).toMatchObject({ n: 0, correct: 0, status: 'undefined' });
    expect(r?.accuracy).toEqual({ value: undefined, reason: 'no sample matches this slice' });
  });

  it('a slice of unlabeled samples only says so', () => {
    const r = one({ field: 'predicted', op: 'eq', value: '8' }, 0.5);
    // predicted = 8: s1 s3 s6 ✓, s7 ✗, s5 unlabeled → 3/4 (this is the precision of class 8).
    expect(r).toMatchObject({ n: 4, correct: 3, unlabeled: 1 });
    const onlyUnlabeled = evaluateSlices([slice('u', { field: 'stat', name: 'brightness', op: 'lt', value: 0.25 })], [SAMPLES[4] as SliceSample])[0];
    expect(onlyUnlabeled?.accuracy.reason).toBe('no labeled sample matches this slice (1 unlabeled do)');
  });

  it('an empty slice explains missing statistics', () => {
    const r = one({ field: 'stat', name: 'dominantHue', op: 'eq', value: 5 });
    expect(r?.status).toBe('undefined');
    expect(r?.accuracy.reason).toBe('no sample matches this slice; 7 samples have no value for dominantHue, and a missing value matches nothing');
  });

  it('numeric attribute comparison: age >= 30 selects s7 ✗ → 0/1 fails; text never compares', () => {
    expect(one({ field: 'attr', name: 'age', op: 'gte', value: 30 })).toMatchObject({ n: 1, correct: 0, status: 'fail' });
    expect(one({ field: 'attr', name: 'color', op: 'gt', value: 0 })?.n).toBe(0);
  });

  it('split and provenance: test ∧ augmented selects s6; all [] is every labeled sample', () => {
    const r = one({ all: [{ field: 'split', op: 'in', values: ['test'] }, { field: 'provenance', op: 'eq', value: 'augmented' }] });
    expect(r).toMatchObject({ n: 1, correct: 1 });
    // 6 labeled: s1 s3 s4 s6 correct, s2 s7 wrong.
    expect(one({ all: [] })).toMatchObject({ n: 6, correct: 4, unlabeled: 1 });
  });

  it('evaluates several slices in order', () => {
    const rs = evaluateSlices(
      [slice('a', { field: 'label', op: 'eq', value: '3' }, 0.9), slice('b', { field: 'label', op: 'neq', value: '3' }, 0.5)],
      SAMPLES,
    );
    // label 3: s4 ✓ s7 ✗ → 0.5 < 0.9; label != 3 (unlabeled never matches): s1 s2 s3 s6 → 3/4.
    expect(rs.map((r) => [r.sliceId, r.n, r.correct, r.status])).toEqual([
      ['a', 2, 1, 'fail'],
      ['b', 4, 3, 'pass'],
    ]);
  });

  it('matches() agrees with the stats written by computeImageStats', () => {
    const dark = computeImageStats(new Uint8Array(16).fill(20), 4, 4, 1);
    const s = sample('1', '1', { stats: dark });
    expect(matches({ field: 'stat', name: 'brightness', op: 'lt', value: 0.25 }, s)).toBe(true);
    expect(matches({ field: 'stat', name: 'dominantHue', op: 'gte', value: 0 }, s)).toBe(false); // gray: no hue
  });
});

describe('validateSlices', () => {
  const good: Slice = slice('s', {
    all: [
      { field: 'label', op: 'eq', value: '8' },
      { field: 'attr', name: 'color', op: 'in', values: ['red'] },
      { field: 'stat', name: 'brightness', op: 'lt', value: 0.25 },
    ],
  });

  it('accepts the documented example and round-trips it through JSON', () => {
    const v = validateSlices(JSON.parse(JSON.stringify([good])));
    expect(v).toEqual({ ok: true, slices: [good] });
  });

  /** The errors for one predicate, as "path: message". */
  const errorsOf = (p: unknown): string[] => {
    const v = validatePredicate(p);
    return v.ok ? [] : v.errors.map((e) => `${e.path}: ${e.message}`);
  };

  it('names the path of an unknown field, an unknown op and a missing value', () => {
    expect(errorsOf({ all: [{ field: 'label', op: 'eq', value: '8' }, { field: 'colour', op: 'eq', value: 'red' }] })).toEqual([
      'predicate.all[1].field: unknown field "colour"; use one of label, predicted, split, provenance, attr, stat',
    ]);
    expect(errorsOf({ any: [{ not: { field: 'label', op: 'like', value: '8' } }] })).toEqual([
      'predicate.any[0].not.op: unknown op "like"; use one of eq, neq, in, lt, lte, gt, gte',
    ]);
    expect(errorsOf({ field: 'attr', name: 'color', op: 'eq' })).toEqual(['predicate.value: missing "value" for op "eq"']);
    expect(errorsOf({ field: 'attr', name: 'color', op: 'in', value: 'red' })).toEqual([
      'predicate.value: unexpected key for a "attr" condition with op "in"',
      'predicate.values: missing "values" (an array) for op "in"',
    ]);
  });

  it('checks value types, names and enumerations', () => {
    expect(errorsOf({ field: 'label', op: 'eq', value: 8 })).toEqual(['predicate.value: expected a string (a class name, e.g. "8")']);
    expect(errorsOf({ field: 'label', op: 'lt', value: 8 })).toEqual([
      'predicate.op: "lt" compares numbers; a label can only be compared with eq, neq or in',
    ]);
    expect(errorsOf({ field: 'stat', name: 'darkness', op: 'lt', value: 0.2 })).toEqual([
      'predicate.name: unknown image statistic "darkness"; use one of brightness, contrast, colourfulness, saturation, dominantHue, edgeDensity',
    ]);
    expect(errorsOf({ field: 'stat', name: 'brightness', op: 'in', values: [0.1, 'x'] })).toEqual([
      'predicate.values[1]: expected a finite number',
    ]);
    expect(errorsOf({ field: 'split', op: 'in', values: ['train', 'tset'] })).toEqual([
      'predicate.values[1]: unknown split "tset"; use one of train, val, test, unassigned',
    ]);
    expect(errorsOf({ field: 'attr', op: 'eq', value: 'x' })).toEqual(['predicate.name: missing attribute name']);
  });

  it('checks combinator shape', () => {
    expect(errorsOf({ all: [], field: 'label' })).toEqual(['predicate: a combinator node has exactly one key; found all, field']);
    expect(errorsOf({ any: [] })).toEqual(['predicate.any: an empty "any" matches no sample; add a condition']);
    expect(errorsOf({ all: { field: 'label' } })).toEqual(['predicate.all: expected an array of predicates']);
    expect(errorsOf({ op: 'eq', value: '8' })).toEqual(['predicate: missing "field" (one of label, predicted, split, provenance, attr, stat), or a combinator (all, any, not)']);
    expect(errorsOf('label = 8')).toHaveLength(1);
  });

  it('checks the slice around the predicate: ids, names, accuracy range', () => {
    const v = validateSlices([good, { ...good, name: ' ', minAccuracy: 90 }, { id: 'b', name: 'b', minAccuracy: 0.5, extra: 1 }]);
    expect(v.ok).toBe(false);
    if (v.ok) return;
    expect(v.errors.map((e) => e.path)).toEqual(['slices[1].id', 'slices[1].name', 'slices[1].minAccuracy', 'slices[2].extra', 'slices[2].predicate']);
    expect(v.errors[0]?.message).toBe('duplicate id "s"');
  });

  it('parseSlicesJson throws a named error listing every problem', () => {
    expect(() => parseSlicesJson([{ ...good, minAccuracy: -1 }])).toThrowError(
      expect.objectContaining({ name: 'InvalidSliceError', message: expect.stringContaining('slices[0].minAccuracy: expected a number from 0 to 1') }),
    );
    expect(parseSlicesJson([good])).toEqual([good]);
  });
});

describe('parsePredicate / formatPredicate', () => {
  it('parses the readable form: class names stay strings, statistics are numbers', () => {
    expect(parsePredicate('label = 8 and color = red')).toEqual({
      all: [
        { field: 'label', op: 'eq', value: '8' },
        { field: 'attr', name: 'color', op: 'eq', value: 'red' },
      ],
    });
    expect(parsePredicate('brightness < 0.25')).toEqual({ field: 'stat', name: 'brightness', op: 'lt', value: 0.25 });
    expect(parsePredicate('"skin tone" in (dark, "very dark")')).toEqual({ field: 'attr', name: 'skin tone', op: 'in', values: ['dark', 'very dark'] });
    expect(parsePredicate('attr.label != x')).toEqual({ field: 'attr', name: 'label', op: 'neq', value: 'x' });
  });

  it('and binds tighter than or; not and parentheses nest', () => {
    const a = { field: 'attr', name: 'a', op: 'eq', value: '1' } as const;
    const b = { field: 'attr', name: 'b', op: 'eq', value: '2' } as const;
    const c = { field: 'attr', name: 'c', op: 'gte', value: 3 } as const;
    expect(parsePredicate('a = 1 or b = 2 and c >= 3')).toEqual({ any: [a, { all: [b, c] }] });
    expect(parsePredicate('not (a = 1 or b = 2) AND c >= 3')).toEqual({ all: [{ not: { any: [a, b] } }, c] });
  });

  it('reports the column of a syntax error and validates what it parsed', () => {
    const problem = (src: string): string => {
      try {
        parsePredicate(src);
      } catch (e) {
        expect(e).toBeInstanceOf(InvalidSliceError);
        return (e as InvalidSliceError).errors.map((x) => `${x.path}: ${x.message}`).join(' | ');
      }
      return 'parsed';
    };
    expect(problem('label = ')).toBe('text:9: expected a value');
    expect(problem('label = 8 )')).toBe('text:11: unexpected ")"');
    expect(problem('brightness < dark')).toBe('text:14: expected a number for brightness <');
    expect(problem('label < 8')).toBe('text.op: "lt" compares numbers; a label can only be compared with eq, neq or in');
    expect(problem('split = tset')).toBe('text.value: unknown split "tset"; use one of train, val, test, unassigned');
    expect(problem('(label = 8')).toBe('text:11: expected ")"');
    expect(problem('')).toBe('text:1: the condition is empty');
  });

  it('formatPredicate prints a form that parses back to the same predicate', () => {
    const p: SlicePredicate = {
      all: [
        { field: 'label', op: 'eq', value: '8' },
        { any: [{ field: 'attr', name: 'color', op: 'in', values: ['red', 'dark red'] }, { not: { field: 'stat', name: 'edgeDensity', op: 'gte', value: 0.3 } }] },
        { field: 'attr', name: 'brightness', op: 'eq', value: 'and' },
        { field: 'split', op: 'neq', value: 'train' },
      ],
    };
    const text = formatPredicate(p);
    expect(text).toBe('label = 8 and (color in (red, "dark red") or not edgeDensity >= 0.3) and attr.brightness = "and" and split != train');
    expect(parsePredicate(text)).toEqual(p);
    expect(parsePredicate(formatPredicate({ all: [] }))).toEqual({ all: [] });
  });
});

// ---------------------------------------------------------------------------------------
// Image statistics (src/lib/analysis/image-stats.ts): the numbers "stat" conditions read.
/** An RGB image with every pixel set to one colour. */
function solidRgb(width: number, height: number, rgb: [number, number, number]): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) out.set(rgb, i * 3);
  return out;
}

/** Gray image, left half 0, right half 255 (width even). */
function halfBlackHalfWhite(width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = width / 2; x < width; x++) out[y * width + x] = 255;
  return out;
}

describe('computeImageStats', () => {
  it('constant gray image: brightness = value / 255, everything else 0, no hue', () => {
    const s = computeImageStats(new Uint8Array(28 * 28).fill(51), 28, 28, 1);
    expect(s.brightness).toBeCloseTo(51 / 255, 12); // 0.2
    expect(s.contrast).toBe(0);
    expect(s.colourfulness).toBe(0);
    expect(s.saturation).toBe(0);
    expect(s.dominantHue).toBeUndefined();
    expect(s.edgeDensity).toBe(0);
  });

  it('half black / half white: brightness 0.5, contrast 0.5, edges only at the seam', () => {
    // Luma is 0 on half the pixels and 255 on the other: mean 127.5 → 0.5; every pixel is
    // 127.5 from the mean, so the std is 127.5 → 0.5.
    // Sobel x with reflect-101 borders on a 28-wide row (cols 0..13 black, 14..27 white):
    // only cols 13 and 14 see both sides, gx = (1+2+1)·255 = 1020 → magnitude 1 > 0.25;
    // cols 0 and 27 reflect onto their own side, gx = 0. Edge density = 2 / 28.
    const s = computeImageStats(halfBlackHalfWhite(28, 28), 28, 28, 1);
    expect(s.brightness).toBe(0.5);
    expect(s.contrast).toBe(0.5);
    expect(s.edgeDensity).toBeCloseTo(2 / 28, 12);
  });

  it('gray RGB image equals the 1-channel image (luma weights sum to 1)', () => {
    const rgb = new Uint8Array(6 * 4 * 3);
    const gray = new Uint8Array(6 * 4);
    for (let i = 0; i < 24; i++) {
      gray[i] = (i * 37) % 256;
      rgb.fill(gray[i] as number, i * 3, i * 3 + 3);
    }
    const a = computeImageStats(rgb, 6, 4, 3);
    const b = computeImageStats(gray, 6, 4, 1);
    expect(a.brightness).toBeCloseTo(b.brightness, 6);
    expect(a.contrast).toBeCloseTo(b.contrast, 6);
    expect(a.edgeDensity).toBe(b.edgeDensity);
    expect(a.colourfulness).toBe(0);
    expect(a.dominantHue).toBeUndefined();
  });

  it('solid pure red: hue 0, saturation 1, colourfulness from the formula', () => {
    // rg = 255 − 0 = 255, yb = ½(255 + 0) − 0 = 127.5, no variance:
    // M = 0 + 0.3 · √(255² + 127.5²) = 0.3 · 285.0987… = 85.5296…
    const s = computeImageStats(solidRgb(4, 4, [255, 0, 0]), 4, 4, 3);
    expect(s.dominantHue).toBe(0);
    expect(s.saturation).toBe(1);
    expect(s.colourfulness).toBeCloseTo(0.3 * Math.hypot(255, 127.5), 9);
    // Luma of pure red = 0.299 · 255 → brightness 0.299.
    expect(s.brightness).toBeCloseTo(0.299, 6);
  });

  it('dominant hue is the mode over chromatic pixels, ignoring gray and dark ones', () => {
    // 10 pixels: 3 green (hue 120° → 60), 2 blue (240° → 120), 4 gray (would be hue 0 if
    // counted, the largest group), 1 dark red (V = 20 < 0.15 · 255, hue noise, excluded).
    const px: [number, number, number][] = [
      ...Array<[number, number, number]>(3).fill([0, 200, 0]),
      ...Array<[number, number, number]>(2).fill([0, 0, 200]),
      ...Array<[number, number, number]>(4).fill([90, 90, 90]),
      [20, 0, 0],
    ];
    const s = computeImageStats(Uint8Array.from(px.flat()), 10, 1, 3);
    expect(s.dominantHue).toBe(60);
    // Saturation mean: 5 pixels at 1, 4 gray at 0, dark red (20−0)/20 = 1 → 6 / 10.
    expect(s.saturation).toBeCloseTo(0.6, 12);
  });

  it('matches OpenCV + NumPy on a crafted 12×10 RGB and gray image', () => {
    // Golden values from /usr/bin/python3 with python3-opencv 4.6 (tolerance 1e-9; dominant
    // hue exact; its mode bin holds 4 pixels, the runner-up 3, so the mode is unambiguous):
    //   ys,xs=np.mgrid[0:10,0:12]
    //   img=np.stack([(xs*37+ys*11)%256,(xs*13+ys*53+40)%256,(xs*xs*7+ys*29)%256],-1).astype(np.uint8)
    //   f=img.astype(float); luma=0.299*f[...,0]+0.587*f[...,1]+0.114*f[...,2]
    //   brightness=luma.mean()/255; contrast=luma.std()/255
    //   rg=f[...,0]-f[...,1]; yb=0.5*(f[...,0]+f[...,1])-f[...,2]
    //   colourfulness=np.sqrt(rg.std()**2+yb.std()**2)+0.3*np.sqrt(rg.mean()**2+yb.mean()**2)
    //   v=f.max(-1); mn=f.min(-1); s=np.where(v==0,0,(v-mn)/np.where(v==0,1,v)); saturation=s.mean()
    //   h=cv2.cvtColor(img,cv2.COLOR_RGB2HSV)[...,0]; dominantHue=np.bincount(h[(s>=0.15)&(v>=0.15*255)],minlength=180).argmax()
    //   gx=cv2.Sobel(luma,cv2.CV_64F,1,0,ksize=3,borderType=cv2.BORDER_REFLECT_101); gy=(same, 0,1)
    //   edgeDensity=(np.sqrt(gx**2+gy**2)/1020>0.25).mean()
    // and for the gray image g=(xs*37+ys*53)%256 the same brightness / contrast / edge lines.
    const [w, h] = [12, 10];
    const rgb = new Uint8Array(w * h * 3);
    const gray = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const p = (y * w + x) * 3;
        rgb[p] = (x * 37 + y * 11) % 256;
        rgb[p + 1] = (x * 13 + y * 53 + 40) % 256;
        rgb[p + 2] = (x * x * 7 + y * 29) % 256;
        gray[y * w + x] = (x * 37 + y * 53) % 256;
      }
    }
    const s = computeImageStats(rgb, w, h, 3);
    // Luma is summed in float32 here (float64 in NumPy): 1e-6 absolute covers that.
    expect(s.brightness).toBeCloseTo(0.4930324183006536, 6);
    expect(s.contrast).toBeCloseTo(0.19352633921694512, 6);
    expect(s.colourfulness).toBeCloseTo(134.11743557080808, 9);
    expect(s.saturation).toBeCloseTo(0.6623007634245508, 9);
    expect(s.dominantHue).toBe(54);
    expect(s.edgeDensity).toBeCloseTo(0.6083333333333333, 12);
    const g = computeImageStats(gray, w, h, 1);
    expect(g.brightness).toBeCloseTo(0.48679738562091507, 9);
    expect(g.contrast).toBeCloseTo(0.2905954385660147, 9);
    expect(g.edgeDensity).toBeCloseTo(0.6583333333333333, 12);
  });

  it('a step below the edge threshold is not an edge, one above is', () => {
    // A vertical step of d gray levels gives normalised magnitude d / 255 at the seam.
    const step = (d: number): number => {
      const img = new Uint8Array(8 * 4);
      for (let y = 0; y < 4; y++) for (let x = 4; x < 8; x++) img[y * 8 + x] = d;
      return computeImageStats(img, 8, 4, 1).edgeDensity;
    };
    const atThreshold = Math.round(EDGE_MAGNITUDE_THRESHOLD * 255); // 64 → 64/255 = 0.251 > 0.25
    expect(step(atThreshold - 1)).toBe(0); // 63/255 = 0.247
    expect(step(atThreshold)).toBe(2 / 8);
  });

  it('rejects a buffer that does not match the shape, saying what to do', () => {
    expect(() => computeImageStats(new Uint8Array(10), 4, 4, 1)).toThrowError(/needs 16.*re-import/);
  });
});

describe('opencvHue', () => {
  it('matches cv2.cvtColor(RGB2HSV) exactly, including the pixels where round(degrees / 2) is off by one', () => {
    // cv2.cvtColor(np.array([[...]],np.uint8),cv2.COLOR_RGB2HSV)[0,:,0] with python3-opencv 4.6.
    // Float round(deg/2) would give 8, 44, 156, 30, 124, 3, 138, 146 for the first eight.
    const pixels: [number, number, number][] = [
      [201, 69, 25], [146, 247, 38], [230, 23, 192], [252, 255, 74], [34, 10, 213], [171, 17, 3],
      [138, 21, 211], [188, 18, 218], [255, 0, 1], [0, 0, 0], [128, 128, 128],
    ];
    const expected = [7, 45, 155, 31, 123, 2, 139, 145, 0, 0, 0];
    expect(pixels.map(([r, g, b]) => opencvHue(r, g, b))).toEqual(expected);
  });
});
