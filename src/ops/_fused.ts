/**
 * Reaching a backend's optional fused kernels.
 *
 * @module
 */
import type { Backend, FusedKernels } from "../backend/backend.ts";

/**
 * The fused kernel `name` of `be`, bound to it; an Error naming the op, the kernel and the
 * backend when the backend does not have it.
 */
export function fused<K extends keyof FusedKernels>(
  be: Backend,
  name: K,
  op: string,
): NonNullable<FusedKernels[K]> {
  const kernel = be[name];
  if (!kernel) {
    throw new Error(`${op}: the ${be.name} backend has no ${name} kernel, and this op has no composite for it yet`);
  }
  return (kernel as (...args: unknown[]) => void).bind(be) as NonNullable<FusedKernels[K]>;
}
