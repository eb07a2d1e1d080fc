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

Deno.test({
  name:
    "PhiloxGenerator on CUDA: the device keeps the stream's offset; draws on the CPU, setState and reseeds in between follow it",
  ignore,
  fn() {
    const cuda = dev();
    const a = new PhiloxGenerator(5), b = new PhiloxGenerator(5);
    const draw = (g: PhiloxGenerator, n: number, device = cpu) => Array.from(g.uniform([n], { device }).toArray());
    // b: every CUDA fill reads its offset from the device, which the previous fill advanced there.
    for (const [n, onCuda] of [[70001, true], [3, true], [10, false], [5, true], [1, false], [9, true]] as const) {
      assertEquals(draw(b, n, onCuda ? cuda : cpu), draw(a, n), `a fill of ${n} on ${onCuda ? "cuda" : "cpu"}`);
    }
    a.setState({ seed: 9, offset: 123 });
    b.setState({ seed: 9, offset: 123 });
    assertEquals(draw(b, 17, cuda), draw(a, 17), "after setState");
    assertEquals(b.getState(), { seed: 9n, offset: 123 + 5 });
    // The device's copy of the offset: one write per change, none while the CUDA fills follow each other.
    const before = cuda.threadStats().h2dCopies;
    for (let i = 0; i < 4; i++) b.bernoulli([40], 0.5, { device: cuda }).dispose();
    assertEquals(cuda.threadStats().h2dCopies - before, 0, "consecutive CUDA fills write nothing");
  },
});
