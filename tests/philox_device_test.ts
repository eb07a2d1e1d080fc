/**
 * The Philox stream on the device: a seed gives the same numbers on the CPU and on the CUDA backend
 * (the emulation build here, the card under gpu_check), so a dropout mask does not depend on the device.
 */
import { cpu, manualSeed, PhiloxGenerator, philoxGenerator } from "../mod.ts";
import { assertEquals } from "./_std.ts";
import { dev, ignore } from "./_cuda.ts";

Deno.test({
  name: "PhiloxGenerator: the same seed gives the same mask and uniforms on the CPU and on CUDA",
  ignore,
  fn() {
    const cuda = dev();
    for (const [seed, p] of [[0, 0.5], [7, 0.9], [2 ** 40 + 3, 0.1]] as const) {
      const a = new PhiloxGenerator(seed), b = new PhiloxGenerator(seed);
      assertEquals(
        Array.from(a.bernoulli([3, 333], p, { device: cpu }).toArray()),
        Array.from(b.bernoulli([3, 333], p, { device: cuda }).toArray()),
        `bernoulli seed ${seed}`,
      );
      // The streams continue alike: the next fill starts at the same offset on both.
      assertEquals(
        Array.from(a.uniform([101], { low: -2, high: 3, device: cpu }).toArray()),
        Array.from(b.uniform([101], { low: -2, high: 3, device: cuda }).toArray()),
        `uniform after bernoulli, seed ${seed}`,
      );
      assertEquals(a.getState(), b.getState());
    }
    manualSeed(11);
    const onCpu = philoxGenerator().bernoulli([64], 0.5).toArray();
    manualSeed(11);
    assertEquals(Array.from(philoxGenerator().bernoulli([64], 0.5, { device: cuda }).toArray()), Array.from(onCpu));
  },
});
