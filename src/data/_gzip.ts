/**
 * Streaming gzip inflation with the platform's `DecompressionStream`, one member at a time, so
 * that a reader can stop as soon as it has what it needs and a gzip bomb never inflates whole.
 *
 * The compressed bytes go in slices of {@linkcode SLICE_BYTES}: deflate inflates at most 1032:1,
 * so no single output chunk exceeds about 17 MB. `DecompressionStream` rejects anything after
 * the end of a gzip member, so a multi-member file (`cat a.gz b.gz`, bgzip, pigz) is split here:
 * a member may end only where the next one's header starts (1f 8b 08, reserved flag bits zero)
 * and the trailer just before it states the size inflated so far (ISIZE). There the stream is
 * closed, which makes the platform check the member's CRC-32 and size; should the close fail
 * (stored bytes that merely look like a boundary), the member is inflated again from its start,
 * ignoring that place.
 *
 * @module
 */

/** Compressed bytes per write. */
export const SLICE_BYTES = 16 * 1024;

/** The most bytes one byte of deflate data can inflate to (zlib's technical note: 1032:1). */
export const MAX_DEFLATE_RATIO = 1032;

/** Replays of one member after false boundaries before giving up (a real file needs none). */
const MAX_REPLAYS = 16;

/** The smallest gzip member: a 10-byte header, an empty deflate block (2 bytes), an 8-byte trailer. */
const MIN_MEMBER_BYTES = 20;

/** Where inflated bytes go. `write` may throw to stop the inflation; that error is rethrown as is. */
export interface InflateSink {
  /** Takes the next inflated bytes (the chunk is not reused by the caller). */
  write(chunk: Uint8Array): void;
  /** How many bytes were written so far. */
  readonly length: number;
  /** Forgets everything written after the first `length` bytes (a member is inflated again). */
  truncate(length: number): void;
}

/**
 * Inflates `bytes` (one or more gzip members) into `sink`, chunk by chunk. Errors from the gzip
 * data name `name` and say where in the compressed bytes the problem lies; errors thrown by
 * `sink.write` stop the inflation and are rethrown unchanged.
 */
export async function inflateGzip(bytes: Uint8Array, sink: InflateSink, name: string): Promise<void> {
  let start = 0;
  let members = 0;
  while (start < bytes.length) {
    start = await inflateMember(bytes, start, sink, `${name}${members > 0 ? ` (gzip member ${members + 1})` : ""}`);
    members++;
  }
}

/** Inflates the member starting at `start`; returns where the next one starts (or `bytes.length`). */
async function inflateMember(bytes: Uint8Array, start: number, sink: InflateSink, name: string): Promise<number> {
  const outStart = sink.length;
  let ignoreThrough = start; // candidate boundaries at or before this offset are known to be false
  let lastCloseError: unknown = undefined;
  for (let replay = 0; replay <= MAX_REPLAYS; replay++) {
    const attempt = await tryMember(bytes, start, ignoreThrough, sink);
    if (attempt.ok) return attempt.end;
    if (attempt.kind === "sink") throw attempt.error;
    if (attempt.kind === "close" && attempt.end < bytes.length) {
      // The stream was closed at what looked like a boundary and the platform disagreed: go again.
      lastCloseError = attempt.error;
      ignoreThrough = attempt.end;
      sink.truncate(outStart);
      continue;
    }
    throw gzipError(name, attempt, lastCloseError);
  }
  throw new Error(
    `gunzip: ${name} has more than ${MAX_REPLAYS} places that look like the end of a gzip member but are not ` +
      `(the last at compressed byte ${ignoreThrough}); expected a regular gzip file`,
  );
}

/** A pass that failed in the gzip data: a write of compressed bytes `from..end-1`, or the close at `end`. */
type GzipFailure = { ok: false; kind: "write" | "close"; error: unknown; from: number; end: number };

type Attempt =
  | { ok: true; end: number }
  | { ok: false; kind: "sink"; error: unknown }
  | GzipFailure;

/** One pass over a member: inflates until the end of `bytes` or the first plausible boundary. */
async function tryMember(bytes: Uint8Array, start: number, ignoreThrough: number, sink: InflateSink): Promise<Attempt> {
  const stream = new DecompressionStream("gzip");
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  let inflated = 0; // this member's output so far
  const stopped: { bySink?: Attempt } = {}; // set when the sink threw
  const pump = (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      inflated += value.length;
      try {
        sink.write(value);
      } catch (error) {
        stopped.bySink = { ok: false, kind: "sink", error };
        await reader.cancel(error).catch(() => {});
        return;
      }
    }
  })();
  pump.catch(() => {}); // its rejection is the writer's too; it is awaited below
  let pos = start;
  try {
    for (;;) {
      const boundary = nextBoundary(bytes, Math.max(pos, ignoreThrough, start + MIN_MEMBER_BYTES - 1) + 1, pos);
      const stop = Math.min(pos + SLICE_BYTES, boundary ?? bytes.length, bytes.length);
      const from = pos;
      try {
        await writer.write(bytes.subarray(pos, stop) as Uint8Array<ArrayBuffer>);
      } catch (error) {
        if (stopped.bySink) return stopped.bySink;
        return { ok: false, kind: "write", error, from, end: stop };
      }
      // A write resolves after its output reached the pump (the reader's promise settles first).
      if (stopped.bySink) return stopped.bySink;
      pos = stop;
      if (pos === bytes.length) break;
      if (pos === boundary && readU32LE(bytes, pos - 4) === inflated >>> 0) break;
    }
    try {
      await writer.close();
      await pump;
    } catch (error) {
      if (stopped.bySink) return stopped.bySink;
      return { ok: false, kind: "close", error, from: pos, end: pos };
    }
    if (stopped.bySink) return stopped.bySink;
    return { ok: true, end: pos };
  } finally {
    writer.abort().catch(() => {});
    await pump.catch(() => {});
  }
}

/**
 * The first offset in `[from, pos + SLICE_BYTES]` where a gzip member header could start, or
 * undefined. A member needs at least 10 header bytes after it.
 */
function nextBoundary(bytes: Uint8Array, from: number, pos: number): number | undefined {
  const limit = Math.min(pos + SLICE_BYTES, bytes.length - 10);
  for (let i = from; i <= limit; i++) {
    const at = bytes.subarray(i, limit + 1).indexOf(0x1f);
    if (at < 0) return undefined;
    i += at;
    if (bytes[i + 1] === 0x8b && bytes[i + 2] === 0x08 && (bytes[i + 3] & 0xe0) === 0) return i;
  }
  return undefined;
}

function readU32LE(bytes: Uint8Array, at: number): number {
  return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
}

function gzipError(name: string, attempt: GzipFailure, lastCloseError: unknown): Error {
  const { error } = attempt;
  const message = error instanceof Error ? error.message : String(error);
  const also = lastCloseError instanceof Error ? `; also: ${lastCloseError.message}` : "";
  if (attempt.kind === "write" && /whole buffer/.test(message)) {
    return new Error(
      `gunzip: ${name}: a gzip member ends within compressed bytes ${attempt.from}-${attempt.end - 1} and what ` +
        `follows it is not another gzip member (trailing data${also}); expected nothing or another member (1f 8b 08)`,
      { cause: error },
    );
  }
  const where = attempt.kind === "close"
    ? `at its end (compressed byte ${attempt.end}): cut short, or its CRC-32 or size does not match`
    : `within compressed bytes ${attempt.from}-${attempt.end - 1}`;
  return new Error(
    `gunzip: ${name} is damaged: the gzip data fails ${where} (${message}${also}); expected a complete gzip file`,
    { cause: error },
  );
}
