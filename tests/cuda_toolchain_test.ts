/**
 * The CUDA build's toolchain rules (issue 11 part 6), without needing a particular toolkit: fake
 * `nvcc` scripts stand in for CUDA 11.4, 11.8 and 12.4, so the version and architecture checks run
 * the same on every machine. What is checked: where nvcc is looked for and in which order, the
 * architectures each CUDA version compiles for (from `nvcc --list-gpu-code`, else the table), the
 * driver floor each runtime implies, the refusal of an --arch the toolkit cannot target, the skip
 * of a toolkit older than 11.8, and the ptxas spill gate on a synthetic `-Xptxas -v` log.
 *
 * @module
 */
import { assertEquals, assertOk, assertRejects, join } from "./_std.ts";
import {
  archsForVersion,
  buildCudaLibrary,
  driverFloor,
  findNvcc,
  probeNvcc,
  spillGate,
} from "../scripts/build_native.ts";

/** Writes an executable fake nvcc that prints `release X.Y` and, when `codes` is given, a --list-gpu-code list. */
function fakeNvcc(dir: string, version: string, codes?: string[]): string {
  Deno.mkdirSync(dir, { recursive: true });
  const path = join(dir, "nvcc");
  const list = codes ? `echo "${codes.join("\\n")}"; exit 0` : `echo "nvcc fatal: Unknown option" >&2; exit 1`;
  Deno.writeTextFileSync(
    path,
    `#!/bin/sh\ncase "$1" in\n  --version) echo "Cuda compilation tools, release ${version}, V${version}.1";;\n` +
      `  --list-gpu-code) ${list};;\n  *) echo "fake nvcc: $*" >&2; exit 3;;\nesac\n`,
  );
  Deno.chmodSync(path, 0o755);
  return path;
}

/** An environment of the test's own (the process's is shared with the test files running beside it). */
const envOf = (vars: Record<string, string | undefined>) => (name: string) => vars[name];

Deno.test("findNvcc: $NVCC, then $CUDA_HOME/bin/nvcc, then PATH, then /usr/local/cuda", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const onPath = fakeNvcc(join(tmp, "path"), "12.4");
    const home = fakeNvcc(join(tmp, "home", "bin"), "12.2");
    const explicit = fakeNvcc(join(tmp, "explicit"), "11.8");
    const path = join(tmp, "path");
    assertEquals(findNvcc(envOf({ NVCC: explicit, CUDA_HOME: join(tmp, "home"), PATH: path })), explicit);
    assertEquals(findNvcc(envOf({ NVCC: "nvcc", CUDA_HOME: join(tmp, "home"), PATH: path })), onPath, "$NVCC a name");
    assertEquals(findNvcc(envOf({ CUDA_HOME: join(tmp, "home"), PATH: path })), home);
    // a toolkit on PATH (installed to match the driver) wins over the system's /usr/local/cuda
    assertEquals(findNvcc(envOf({ PATH: path })), onPath);
    const system = (() => {
      try {
        return Deno.statSync("/usr/local/cuda/bin/nvcc").isFile ? "/usr/local/cuda/bin/nvcc" : null;
      } catch {
        return null;
      }
    })();
    assertEquals(findNvcc(envOf({ PATH: tmp })), system);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("archsForVersion and driverFloor: what CUDA 11.8 to 13.x compile for and the drivers they need", () => {
  const v118 = archsForVersion(11, 8), v120 = archsForVersion(12, 0), v128 = archsForVersion(12, 8);
  const v130 = archsForVersion(13, 0);
  for (const a of ["sm_50", "sm_70", "sm_80", "sm_86", "sm_89", "sm_90"]) assertOk(v118.includes(a), `11.8: ${a}`);
  assertOk(!v118.includes("sm_90a") && v120.includes("sm_90a"), "sm_90a arrives with 12.0");
  assertOk(!v120.includes("sm_100") && v128.includes("sm_100") && v128.includes("sm_120"), "Blackwell with 12.8");
  for (const a of ["sm_50", "sm_61", "sm_70", "sm_72", "sm_101"]) assertOk(!v130.includes(a), `13.0 dropped ${a}`);
  for (const a of ["sm_75", "sm_80", "sm_86", "sm_89", "sm_90", "sm_100", "sm_110", "sm_120"]) {
    assertOk(v130.includes(a), `13.0: ${a}`);
  }
  assertEquals([driverFloor(11), driverFloor(12), driverFloor(13)], ["450.80.02", "525.60.13", "580"]);
  // `nvcc --list-gpu-code` of the real toolkits (11.8.89 from Debian, 13.0.88), which omits the
  // arch-specific sm_90a that 12.0 and later also compile for
  const real118 = "sm_35 sm_37 sm_50 sm_52 sm_53 sm_60 sm_61 sm_62 sm_70 sm_72 sm_75 sm_80 sm_86 sm_87 sm_89 sm_90";
  const real130 = "sm_75 sm_80 sm_86 sm_87 sm_88 sm_89 sm_90 sm_100 sm_110 sm_103 sm_120 sm_121";
  assertEquals(v118.join(" "), real118);
  assertEquals(v130.filter((a) => a !== "sm_90a").sort(), real130.split(" ").sort());
});

Deno.test("probeNvcc reads the version and takes nvcc's own architecture list, else the table", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const listed = await probeNvcc(fakeNvcc(join(tmp, "a"), "12.4", ["sm_80", "sm_90", "sm_90a"]));
    assertEquals([listed.version, listed.major, listed.minor, listed.driverFloor], ["12.4", 12, 4, "525.60.13"]);
    assertEquals([listed.archs, listed.archsFrom], [["sm_80", "sm_90", "sm_90a"], "nvcc --list-gpu-code"]);
    const table = await probeNvcc(fakeNvcc(join(tmp, "b"), "11.8"));
    assertEquals([table.archsFrom, table.archs], ["table", archsForVersion(11, 8)]);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("buildCudaLibrary: a toolkit older than 11.8 is skipped, an --arch it cannot target is an error", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const lines: string[] = [];
    const log = (l: string) => lines.push(l);
    const old = fakeNvcc(join(tmp, "old"), "11.4", ["sm_80", "sm_86"]);
    assertEquals(await buildCudaLibrary({ outDir: join(tmp, "out"), log, nvcc: old }), null);
    assertOk(lines.some((l) => l.includes("nvcc 11.4") && l.includes("older than CUDA 11.8")), lines.join("\n"));
    const recent = fakeNvcc(join(tmp, "new"), "12.4", ["sm_80", "sm_86", "sm_89", "sm_90"]);
    await assertRejects(
      () => buildCudaLibrary({ outDir: join(tmp, "out"), log, arch: "sm_70", nvcc: recent }),
      "nvcc 12.4",
      "cannot compile for sm_70; it targets sm_80 sm_86 sm_89 sm_90 (from nvcc --list-gpu-code)",
    );
    const few = fakeNvcc(join(tmp, "few"), "12.4", ["sm_86", "sm_90"]);
    await assertRejects(
      () => buildCudaLibrary({ outDir: join(tmp, "out"), log, nvcc: few }),
      "cannot compile for sm_80, sm_89",
      "use --arch with one of those",
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("spillGate: a kernel that spills fails the build, named with its architecture and bytes", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const spills = join(tmp, "spills.ptxas.txt"), clean = join(tmp, "clean.ptxas.txt");
    const entry = (name: string, arch: string, stack: number, st: number, ld: number) =>
      `ptxas info    : Compiling entry function '${name}' for '${arch}'\n` +
      `ptxas info    : Function properties for ${name}\n` +
      `    ${stack} bytes stack frame, ${st} bytes spill stores, ${ld} bytes spill loads\n` +
      `ptxas info    : Used 255 registers, used 1 barriers, 380 bytes cmem[0]\n`;
    Deno.writeTextFileSync(
      spills,
      entry("_Z4tilePfPKf", "sm_80", 0, 0, 0) + entry("_Z4tilePfPKf", "sm_90", 24, 16, 20),
    );
    Deno.writeTextFileSync(clean, entry("_Z4copyPf", "sm_90", 0, 0, 0));
    assertEquals(await spillGate([{ source: "native/src/copy.cu", log: clean }]), null);
    assertEquals(await spillGate([{ source: "native/src/none.cu", log: join(tmp, "missing.txt") }]), null);
    const why = await spillGate([
      { source: "native/src/copy.cu", log: clean },
      { source: "native/src/tile.cu", log: spills },
    ]);
    assertOk(why !== null, "a spilling kernel passed the gate");
    assertOk(why.includes("register spills in 1 kernel build(s)"), why);
    assertOk(
      /native\/src\/tile\.cu: (tile\(float\*, float const\*\)|_Z4tilePfPKf) \(sm_90\): 16 bytes spill stores, 20 bytes spill loads/
        .test(why),
      why,
    );
    assertOk(!why.includes("sm_80"), why);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("buildCudaLibrary: the spill gate runs in the build (a fake nvcc whose ptxas spills in gemm.cu)", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    // --version and --list-gpu-code as nvcc 12.4; -c writes the object and prints ptxas -v lines (spills
    // for gemm.cu only); -shared writes the library.
    const nvcc = join(tmp, "bin", "nvcc");
    Deno.mkdirSync(join(tmp, "bin"));
    Deno.writeTextFileSync(
      nvcc,
      `#!/bin/sh
case "$1" in --version) echo "Cuda compilation tools, release 12.4, V12.4.1"; exit 0;;
  --list-gpu-code) printf "sm_80\\nsm_86\\nsm_89\\nsm_90\\n"; exit 0;; esac
out=""; src=""; dep=""; prev=""
for a in "$@"; do
  case "$prev" in -o) out=$a;; -MF) dep=$a;; esac
  case "$a" in *.cu) src=$a;; esac
  prev=$a
done
: > "$out"
[ -n "$dep" ] && echo "$out: $src" > "$dep"
[ -z "$src" ] && exit 0
spill=0; case "$src" in */gemm.cu) spill=16;; esac
echo "ptxas info    : Compiling entry function '_Z4tilev' for 'sm_90'"
echo "ptxas info    : Function properties for _Z4tilev"
echo "    0 bytes stack frame, $spill bytes spill stores, $spill bytes spill loads"
echo "ptxas info    : Used 64 registers"
`,
    );
    Deno.chmodSync(nvcc, 0o755);
    const lines: string[] = [];
    const opts = { outDir: join(tmp, "out"), arch: "sm_90", log: (l: string) => lines.push(l), nvcc };
    await assertRejects(
      () => buildCudaLibrary(opts),
      "ptxas reports register spills in 1 kernel build(s)",
      /native\/src\/gemm\.cu: (tile\(\)|_Z4tilev) \(sm_90\): 16 bytes spill stores, 16 bytes spill loads/,
      "libconvnet_cuda.so was removed; --allow-spills keeps such a build",
    );
    let exists = true;
    await Deno.stat(join(tmp, "out", "libconvnet_cuda.so")).catch(() => (exists = false));
    assertEquals(exists, false, "the spilling library was left in place");
    const kept = await buildCudaLibrary({ ...opts, allowSpills: true });
    assertOk(kept !== null && (await Deno.stat(kept.path)).isFile, "--allow-spills did not keep the library");
    assertOk(lines.some((l) => l.startsWith("warning: ptxas reports register spills")), lines.join("\n"));
    assertOk(
      lines.some((l) => l.includes("CUDA 12.4 (needs driver >= 525.60.13); sm_90; -lineinfo")),
      lines.join("\n"),
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
