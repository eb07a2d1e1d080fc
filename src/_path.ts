/**
 * Path helpers from Deno's built-in `node:path` and `node:url` (JSR's `@std/path` is out of reach here).
 *
 * @module
 */
export { dirname, join } from "node:path";
export { fileURLToPath as fromFileUrl } from "node:url";
