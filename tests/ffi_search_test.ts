// Where the native library is looked for (src/backend/cuda/ffi.ts's module doc): a path given or
// CONVNET_LIB alone, else the checkout's native/build, then the user cache that build.ts fills; and
// what build.ts carries so that a JSR user can build it (every native source, the version).
import { assertEquals, assertOk, dirname, fromFileUrl, join } from "./_std.ts";
import { ensureEmuLibrary } from "../scripts/build_native.ts";
import { LIBRARY_NAME, libraryCandidates, PACKAGE_VERSION } from "../src/backend/cuda/_library_search.ts";
import { NATIVE_SOURCES } from "../build.ts";

const ROOT = join(dirname(fromFileUrl(import.meta.url)), "..");
const quiet = () => {};

Deno.test("PACKAGE_VERSION equals deno.json's version (the user cache holds one library per version)", () => {
  const version = JSON.parse(Deno.readTextFileSync(join(ROOT, "deno.json"))).version;
  assertEquals(PACKAGE_VERSION, version, "update PACKAGE_VERSION in src/backend/cuda/_library_search.ts");
});

Deno.test("NATIVE_SOURCES: build.ts carries every file of native/ the build reads, with the checkout's text", () => {
  const want: string[] = ["native/ops.def"];
  const dirs: [string, RegExp][] = [
    ["native/include", /\.h$/],
    ["native/src", /\.(cu|cuh|h)$/],
    ["native/emu", /\.(h|cpp)$/],
  ];
  for (const [dir, re] of dirs) {
    for (const e of Deno.readDirSync(join(ROOT, dir))) if (e.isFile && re.test(e.name)) want.push(`${dir}/${e.name}`);
  }
  const have = Object.keys(NATIVE_SOURCES);
  const missing = want.filter((p) => !have.includes(p)).sort();
  const extra = have.filter((p) => !want.includes(p)).sort();
  assertEquals(
    { missing, extra },
    { missing: [], extra: [] },
    `build.ts's NATIVE_SOURCES is out of date: add an import line and an entry for each missing file, ` +
      `remove the extra ones`,
  );
  for (const p of have) {
    assertOk(NATIVE_SOURCES[p] === Deno.readTextFileSync(join(ROOT, p)), `${p}: build.ts's text differs from the file`);
  }
});

Deno.test("libraryCandidates: the checkout's native/build first, then the user cache; over http(s) the cache only", () => {
  if (Deno.env.get("CONVNET_LIB")) return; // an explicit choice replaces the search (checked in the processes below)
  const local = libraryCandidates(undefined, "/pkg/src/backend/cuda");
  assertEquals(local.candidates.map((c) => c.source), ["this checkout's build", "the user cache"]);
  assertEquals(local.candidates[0].path, `/pkg/native/build/${LIBRARY_NAME}`);
  assertOk(
    local.candidates[1].path.endsWith(`/convnet/${PACKAGE_VERSION}/${LIBRARY_NAME}`),
    local.candidates[1].path,
  );
  const remote = libraryCandidates(undefined, null);
  assertEquals(remote.candidates.map((c) => c.source), ["the user cache"]);
  assertOk(remote.skipped.some((s) => s.includes("imported over http(s)")), remote.skipped.join("; "));
  const given = libraryCandidates("/x/lib.so", "/pkg/src/backend/cuda");
  assertEquals(given.candidates.map((c) => [c.path, c.explicit]), [["/x/lib.so", true]]);
});

/** Runs `code` in a fresh deno with exactly `env` (nothing inherited) and `flags`; returns stdout + stderr. */
async function child(code: string, env: Record<string, string>, flags: string[]): Promise<string> {
  const denoDir = Deno.env.get("DENO_DIR") ?? join(Deno.env.get("HOME") ?? "/root", ".cache", "deno");
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, "-"],
    env: { DENO_DIR: denoDir, NO_COLOR: "1", ...env },
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = out.stdin.getWriter();
  await w.write(new TextEncoder().encode(code));
  await w.close();
  const r = await out.output();
  const dec = new TextDecoder();
  return dec.decode(r.stdout) + dec.decode(r.stderr);
}

Deno.test("openLibrary (own processes): checkout build, then the user cache ($XDG_CACHE_HOME or ~/.cache); a miss lists both; CONVNET_LIB never falls back", async () => {
  const emu = await ensureEmuLibrary({ log: quiet });
  // ffi.ts and what it imports, in a package folder of their own, so that its native/build is ours to fill.
  const tmp = Deno.makeTempDirSync({ prefix: "convnet_ffi_search_" });
  try {
    const pkg = join(tmp, "pkg");
    for (
      const f of [
        "src/_path.ts",
        "src/backend/_ops_table.ts",
        "src/backend/cuda/ffi.ts",
        "src/backend/cuda/_library_search.ts",
      ]
    ) {
      Deno.mkdirSync(dirname(join(pkg, f)), { recursive: true });
      Deno.copyFileSync(join(ROOT, f), join(pkg, f));
    }
    const checkout = join(pkg, "native", "build", LIBRARY_NAME);
    const xdgCache = join(tmp, "xdg", "convnet", PACKAGE_VERSION, LIBRARY_NAME);
    const homeCache = join(tmp, "home", ".cache", "convnet", PACKAGE_VERSION, LIBRARY_NAME);
    for (const p of [checkout, xdgCache, homeCache]) {
      Deno.mkdirSync(dirname(p), { recursive: true });
      Deno.copyFileSync(emu, p);
    }
    const script = `import { openLibrary } from ${JSON.stringify(join(pkg, "src/backend/cuda/ffi.ts"))};
try {
  console.log("OPENED " + openLibrary().path);
} catch (e) {
  console.log("ERROR " + e.message);
}`;
    const home = join(tmp, "home"), xdg = join(tmp, "xdg");
    const all = ["--allow-read", "--allow-env", "--allow-ffi"];
    const run = (env: Record<string, string>, flags = all) => child(script, { HOME: home, ...env }, flags);

    assertOk((await run({ XDG_CACHE_HOME: xdg })).includes(`OPENED ${checkout}`), "the checkout's build comes first");
    Deno.removeSync(checkout);
    const [fromXdg, fromHome, noRead, explicitMiss] = await Promise.all([
      run({ XDG_CACHE_HOME: xdg }),
      run({}),
      run({ XDG_CACHE_HOME: xdg }, ["--allow-env", "--allow-ffi"]), // no --allow-read: dlopen looks
      run({ XDG_CACHE_HOME: xdg, CONVNET_LIB: "/nonexistent/libconvnet_cuda.so" }),
    ]);
    assertOk(fromXdg.includes(`OPENED ${xdgCache}`), fromXdg);
    assertOk(fromHome.includes(`OPENED ${homeCache}`), fromHome);
    assertOk(noRead.includes(`OPENED ${xdgCache}`), noRead);
    assertOk(
      explicitMiss.includes(
        "ERROR CONVNET_LIB=/nonexistent/libconvnet_cuda.so not found (unset CONVNET_LIB to search)",
      ),
      explicitMiss,
    );

    Deno.removeSync(xdgCache);
    const [missing, noEnv] = await Promise.all([
      run({ XDG_CACHE_HOME: xdg }),
      run({ XDG_CACHE_HOME: xdg }, ["--allow-read", "--allow-ffi"]),
    ]);
    assertOk(
      missing.includes(
        `ERROR native library not found: CONVNET_LIB is not set; ` +
          `tried ${checkout} (this checkout's build: deno task build:native) and ` +
          `${xdgCache} (the user cache: deno run -A jsr:@convnet/convnet/build)`,
      ),
      missing,
    );
    assertOk(
      noEnv.includes("CONVNET_LIB not readable (no --allow-env)") &&
        noEnv.includes("no user cache (XDG_CACHE_HOME and HOME not readable: --allow-env)"),
      noEnv,
    );
  } finally {
    Deno.removeSync(tmp, { recursive: true });
  }
});
