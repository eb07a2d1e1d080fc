/**
 * `deno doc` lists every member of the `nn`, `F`, `optim`, `data`, `io` and `train` namespaces
 * (it follows only `export *` inside a namespace module: a named re-export there would vanish from
 * the docs and from `deno doc --filter nn.Conv2d`).
 */
import { assertEquals, assertOk, join } from "./_std.ts";
import * as convnet from "../mod.ts";

const root = join(import.meta.dirname!, "..");
const NAMESPACES = ["nn", "F", "optim", "data", "io", "train"] as const;

interface DocSymbol {
  name: string;
  kind?: string;
  def?: { elements?: DocSymbol[] };
  declarations?: { kind?: string; def?: { elements?: DocSymbol[] } }[];
}

Deno.test("deno doc lists every runtime member of each namespace, and --filter finds one", async () => {
  const out = await new Deno.Command(Deno.execPath(), { args: ["doc", "--json", "mod.ts"], cwd: root }).output();
  assertOk(out.success, new TextDecoder().decode(out.stderr));
  const doc = JSON.parse(new TextDecoder().decode(out.stdout));
  const symbols: DocSymbol[] = (Object.values(doc.nodes)[0] as { symbols: DocSymbol[] }).symbols;
  for (const ns of NAMESPACES) {
    const node = symbols.find((s) => s.name === ns);
    assertOk(node, `namespace ${ns} is not in deno doc's output`);
    const elements = node.def?.elements ?? node.declarations?.flatMap((d) => d.def?.elements ?? []) ?? [];
    const documented = new Set(elements.map((e) => e.name));
    const runtime = Object.keys((convnet as unknown as Record<string, object>)[ns]);
    const missing = runtime.filter((k) => !documented.has(k));
    assertEquals(missing, [], `${ns}: members missing from deno doc`);
    assertOk(runtime.length > 3);
  }
  const filtered = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--filter", "nn.Conv2d", "mod.ts"],
    cwd: root,
    env: { NO_COLOR: "1" },
  }).output();
  assertOk(filtered.success, new TextDecoder().decode(filtered.stderr));
  assertOk(/class Conv2d extends Module/.test(new TextDecoder().decode(filtered.stdout)));
});
