/**
 * The Tensor API's ops against PyTorch 1.13: every case of tests/fixtures/tensor_ops.json runs through
 * convnet on the CPU and on the CUDA backend (emulation build), and the output and the gradient of
 * sum(output · grad_output) with respect to each float input must match within atol 1e-5 + rtol 1e-4.
 */
import { cpu } from "../mod.ts";
import { assertEquals } from "./_std.ts";
import { devices, fixture, runCase } from "./_op_cases.ts";

const targets = devices();
for (const op of new Set(fixture.cases.map((c) => c.op))) {
  Deno.test(`${op} matches PyTorch 1.13 in values and gradients`, async (t) => {
    const cases = fixture.cases.filter((c) => c.op === op);
    assertEquals(cases.length > 0, true, `no ${op} cases in tensor_ops.json`);
    for (const dev of targets) {
      for (const c of cases) {
        await t.step(dev === cpu ? c.name : `${c.name} (${dev.type})`, () => runCase(c, dev));
      }
    }
  });
}
