/**
 * Choosing between a backend's optional fused kernels and their composites.
 *
 * @module
 */
import type { Backend, FusedKernels } from "../backend/backend.ts";

/** A set of fused kernels, all present. */
export type Kernels<K extends keyof FusedKernels> = Required<Pick<FusedKernels, K>>;

/**
 * For each kernel of `composites`: the backend's own, bound to it, when it has one; otherwise the
 * composite (the same math from primitives, with the same signature).
 */
export function fusedOrComposite<K extends keyof FusedKernels>(be: Backend, composites: Kernels<K>): Kernels<K> {
  const out = {} as Record<string, unknown>;
  for (const name of Object.keys(composites) as K[]) {
    const own = be[name] as ((...args: unknown[]) => void) | undefined;
    out[name] = own ? own.bind(be) : composites[name];
  }
  return out as Kernels<K>;
}
