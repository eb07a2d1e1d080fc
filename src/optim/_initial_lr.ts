/**
 * The `initial_lr` of each parameter group, which PyTorch keeps in the group: shared by the
 * schedulers (which set and read it) and the optimizer (whose state dict saves it).
 *
 * @module
 */

/**
 * PyTorch keeps `initial_lr` in each parameter group (set by the first scheduler attached, overwritten by
 * OneCycleLR); our parameter groups stay the optimizer's, so the value lives here, keyed by the group.
 */
const initialLrs = new WeakMap<object, number>();

/** The group's `initial_lr`, set to its current `lr` when no scheduler has set it yet (`setdefault`). */
export function initialLrOf(group: { lr: number }): number {
  let lr = initialLrs.get(group);
  if (lr === undefined) initialLrs.set(group, lr = group.lr);
  return lr;
}

/** Overwrites the group's `initial_lr` (OneCycleLR). */
export function setInitialLr(group: { lr: number }, lr: number): void {
  initialLrs.set(group, lr);
}

/** The group's `initial_lr`, or undefined when no scheduler has been attached to it. */
export function peekInitialLr(group: { lr: number }): number | undefined {
  return initialLrs.get(group);
}
