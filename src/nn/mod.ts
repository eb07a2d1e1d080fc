/**
 * Layers and the `Module` base class.
 *
 * @module
 */
export * from "./module.ts";
export * from "./summary.ts";
export * from "./layers.ts";
export * from "./normalization.ts";
export * from "./spatial.ts";
export * from "./activations.ts";
export * from "./containers.ts";
export * from "./losses.ts";
