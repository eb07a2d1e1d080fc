/**
 * Builds the CUDA library `native/build/libconvnet_cuda.so` from `native/src/*.cu` with nvcc:
 * -O3, static cudart, SASS for sm_80, sm_86, sm_89 and sm_90 plus compute_90 PTX.
 *
 * A machine without nvcc, or a checkout without CUDA sources, is not an error: the script says
 * what it skipped and exits 0, and convnet runs on its TypeScript backend.
 *
 *   deno task build:native [--arch sm_90] [--verbose]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "../src/_path.ts";

const root = join(import.meta.dirname!, "..");
const ARCHS = ["80", "86", "89", "90"];

function findNvcc(): string | null {
  const candidates = [
    Deno.env.get("NVCC"),
    Deno.env.get("CUDA_HOME") && join(Deno.env.get("CUDA_HOME")!, "bin", "nvcc"),
    "/usr/local/cuda/bin/nvcc",
    ...(Deno.env.get("PATH") ?? "").split(":").filter(Boolean).map((d) => join(d, "nvcc")),
  ];
  for (const c of candidates) {
    if (!c) continue;
    try {
      if (Deno.statSync(c).isFile) return c;
    } catch {
      // not there: try the next one
    }
  }
  return null;
}

function sources(): string[] {
  try {
    return [...Deno.readDirSync(join(root, "native", "src"))]
      .filter((e) => e.isFile && e.name.endsWith(".cu"))
      .map((e) => join(root, "native", "src", e.name))
      .sort();
  } catch {
    return [];
  }
}

export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { arch: { type: "string" }, verbose: { type: "boolean" }, help: { type: "boolean" } },
  });
  if (values.help) {
    console.log("usage: deno task build:native [--arch sm_XX] [--verbose]");
    return 0;
  }
  const nvcc = findNvcc();
  if (!nvcc) {
    console.log("nvcc not found: skipping the CUDA library; the TypeScript backend will be used");
    return 0;
  }
  const cu = sources();
  if (cu.length === 0) {
    console.log(
      `native/src holds no CUDA sources: nothing to build (nvcc: ${nvcc}); the TypeScript backend will be used`,
    );
    return 0;
  }
  let archs = ARCHS;
  if (values.arch) {
    const m = /^sm_(\d+)$/.exec(values.arch);
    if (!m) throw new Error(`build:native: --arch must look like sm_90, got ${values.arch}`);
    archs = [m[1]];
  }
  const gencode = archs.flatMap((a) => ["-gencode", `arch=compute_${a},code=sm_${a}`]);
  if (!values.arch) gencode.push("-gencode", "arch=compute_90,code=compute_90");
  const outDir = join(root, "native", "build");
  Deno.mkdirSync(outDir, { recursive: true });
  const out = join(outDir, "libconvnet_cuda.so");
  const cmd = [
    "-O3",
    "-shared",
    "-Xcompiler",
    "-fPIC",
    "--cudart",
    "static",
    "-I",
    join(root, "native", "include"),
    ...gencode,
    ...(values.verbose ? ["-Xptxas", "-v"] : []),
    "-o",
    out,
    ...cu,
  ];
  console.log(`nvcc ${cmd.join(" ")}`);
  const res = await new Deno.Command(nvcc, { args: cmd, stdout: "inherit", stderr: "inherit" }).output();
  if (!res.success) {
    console.error(`build:native: nvcc failed with exit code ${res.code}`);
    return 1;
  }
  console.log(`built ${out} for ${archs.map((a) => `sm_${a}`).join(", ")}${values.arch ? "" : " + compute_90 PTX"}`);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
