/**
 * Seeded random numbers that reproduce PyTorch's CPU generator.
 *
 * PyTorch's CPU generator is MT19937 seeded with `init_genrand(seed)`;
 * `uniform_(a, b)` on a float32 tensor takes one 32-bit draw per element,
 * keeps its low 24 bits and scales them by 2^-24. Doing the same here means
 * `manualSeed(1)` followed by `new nn.Linear(3136, 10)` gives the very
 * weights that `torch.manual_seed(1); nn.Linear(3136, 10)` gives.
 *
 * @module
 */

const N = 624;
const M = 397;

/** The whole state of a {@linkcode Generator}, as {@linkcode Generator.getState} returns it. */
export interface GeneratorState {
  /** The 624 words of MT19937's state. */
  state: Uint32Array | readonly number[];
  /** How many of the words the next draws have used (624: a twist comes first). */
  index: number;
  /** The second value of the last Box-Muller pair, which the next `normal()` returns; or null. */
  spareNormal: number | null;
}

/**
 * A Mersenne Twister (MT19937) generator, seeded like PyTorch's CPU generator.
 *
 * @example
 * ```ts
 * import { Generator } from "@convnet/convnet";
 * const g = new Generator(0);
 * g.nextUint32(); // 2357136044, as torch.manual_seed(0) draws first
 * ```
 */
export class Generator {
  #state = new Uint32Array(N);
  #index = N;
  #spareNormal: number | null = null;

  /** Creates a generator seeded with `seed` (an integer; its low 32 bits are used). */
  constructor(seed = 0) {
    this.seed(seed);
  }

  /** Re-seeds the generator, as `torch.manual_seed(seed)` does. */
  seed(seed: number): void {
    if (!Number.isInteger(seed)) {
      throw new Error(`Generator.seed: seed must be an integer, got ${seed}`);
    }
    const s = this.#state;
    s[0] = seed >>> 0;
    for (let i = 1; i < N; i++) {
      const prev = s[i - 1] ^ (s[i - 1] >>> 30);
      // 1812433253 * prev + i, in 32-bit arithmetic.
      s[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
    this.#index = N;
    this.#spareNormal = null;
  }

  /**
   * A copy of the whole state: the 624 words, the position in them and the cached second
   * normal draw. {@linkcode Generator.setState} with it replays the same draws (checkpoints).
   *
   * @example
   * ```ts
   * import { Generator } from "@convnet/convnet";
   * const g = new Generator(3);
   * const saved = g.getState();
   * const first = g.normal();
   * g.setState(saved);
   * g.normal() === first; // true
   * ```
   */
  getState(): GeneratorState {
    return { state: new Uint32Array(this.#state), index: this.#index, spareNormal: this.#spareNormal };
  }

  /**
   * Restores a state from {@linkcode Generator.getState} (its `state` may also be a plain array
   * of 624 unsigned 32-bit integers, as JSON gives it back). Checked; nothing changes on error.
   */
  setState(state: GeneratorState): void {
    const fail = (what: string, got: unknown): never => {
      throw new Error(`Generator.setState: ${what}, got ${got}`);
    };
    if (state === null || typeof state !== "object") fail("expected { state, index, spareNormal }", state);
    const words = state.state as ArrayLike<unknown> | undefined;
    if (!(words instanceof Uint32Array) && !Array.isArray(words)) {
      fail(`state must be a Uint32Array or an array of ${N} integers`, typeof words);
    }
    if (words!.length !== N) fail(`state must hold ${N} words`, `${words!.length}`);
    if (!(words instanceof Uint32Array)) {
      for (let i = 0; i < N; i++) {
        const w = words![i];
        if (!Number.isInteger(w) || (w as number) < 0 || (w as number) >= 2 ** 32) {
          fail(`state[${i}] must be an integer in [0, 2^32)`, String(w));
        }
      }
    }
    if (!Number.isInteger(state.index) || state.index < 0 || state.index > N) {
      fail(`index must be an integer in [0, ${N}]`, String(state.index));
    }
    const spare = state.spareNormal;
    if (spare !== null && !(typeof spare === "number" && Number.isFinite(spare))) {
      fail("spareNormal must be a finite number or null", String(spare));
    }
    this.#state.set(words as ArrayLike<number>);
    this.#index = state.index;
    this.#spareNormal = spare;
  }

  /** The next raw 32-bit draw, an integer in [0, 2^32). */
  nextUint32(): number {
    if (this.#index >= N) this.#twist();
    let y = this.#state[this.#index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** A float in [0, 1) with 24 random bits, as PyTorch's float32 `uniform_` makes it. */
  random(): number {
    return (this.nextUint32() & 0xffffff) / 16777216;
  }

  /**
   * A float32 value uniform in [from, to), computed as PyTorch computes it: the bounds
   * rounded to float32, `x · (to − from) + from` in double, the result rounded to float32.
   */
  uniform(from: number, to: number): number {
    const f = Math.fround(from);
    const t = Math.fround(to);
    return Math.fround(this.random() * (t - f) + f);
  }

  /** A standard normal draw (Box-Muller on two 24-bit uniforms). */
  normal(): number {
    if (this.#spareNormal !== null) {
      const v = this.#spareNormal;
      this.#spareNormal = null;
      return v;
    }
    const u1 = 1 - this.random(); // in (0, 1], so log is finite
    const u2 = this.random();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.#spareNormal = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  /** An integer in [0, n), without modulo bias. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 2 ** 32) {
      throw new Error(`Generator.int: n must be an integer in [1, 2^32], got ${n}`);
    }
    const limit = 2 ** 32 - (2 ** 32 % n);
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return x % n;
  }

  /** A random permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }

  #twist(): void {
    const s = this.#state;
    for (let i = 0; i < N; i++) {
      const y = (s[i] & 0x80000000) | (s[(i + 1) % N] & 0x7fffffff);
      let v = s[(i + M) % N] ^ (y >>> 1);
      if (y & 1) v ^= 0x9908b0df;
      s[i] = v >>> 0;
    }
    this.#index = 0;
  }
}

let defaultGenerator = new Generator(0);
const reseeders: ((seed: number) => void)[] = [];

/** Adds a stream that `manualSeed` reseeds too (the Philox stream registers itself). @internal */
export function onManualSeed(reseed: (seed: number) => void): void {
  reseeders.push(reseed);
}

/**
 * Seeds the global generator that initialises layers and fills `Tensor.rand`/`randn`.
 * The same seed gives the same weights as `torch.manual_seed(seed)` in PyTorch.
 *
 * @example
 * ```ts
 * import { manualSeed, nn } from "@convnet/convnet";
 * manualSeed(1);
 * const fc = new nn.Linear(4, 2); // same weights as torch.manual_seed(1); nn.Linear(4, 2)
 * ```
 */
export function manualSeed(seed: number): Generator {
  defaultGenerator = new Generator(seed);
  for (const reseed of reseeders) reseed(seed);
  return defaultGenerator;
}

/** The global generator used where no generator is passed. */
export function globalGenerator(): Generator {
  return defaultGenerator;
}
