/**
 * CUDA graph capture and replay: runs tests/_cuda_graph_cases.ts and tests/_cuda_graph_values_cases.ts
 * in a process of their own. A capture
 * holds the native library's one stream, so under `deno test --parallel` (every test file in one
 * process) the other files' kernels would be refused while a graph is being captured, as they would
 * be on a card.
 */
import { assertOk } from "./_std.ts";
import { ignore, root } from "./_cuda.ts";

const FILES = ["tests/_cuda_graph_cases.ts", "tests/_cuda_graph_values_cases.ts"];

Deno.test({
  name:
    "CUDA graph capture and replay (tests/_cuda_graph_cases.ts and _cuda_graph_values_cases.ts, in their own process)",
  ignore,
  fn: async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["test", "-A", "--no-check", ...FILES],
      cwd: root,
      env: { NO_COLOR: "1" },
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assertOk(out.success, text.slice(-6000));
    let cases = 0;
    for (const f of FILES) cases += (await Deno.readTextFile(`${root}/${f}`)).match(/^test\(/gm)!.length;
    assertOk(
      new RegExp(`ok \\| ${cases} passed \\| 0 failed`).test(text),
      `${cases} cases expected:\n${text.slice(-2000)}`,
    );
  },
});
