/**
 * Models built in this process, trusted by identity: buildLoss and linearHeadStep register the bytes
 * they return (with a copy), and reading those same bytes back (createEvaluator of a LossGraph or of
 * its `model`) decodes them once and skips the rebuild that verifies a model from outside. The copy is
 * compared first (a byte comparison), so bytes changed after the build are verified like a file.
 */

/** The bytes a build returned -> the copy made when it returned them. */
const BUILT = new WeakMap<Uint8Array, Uint8Array>();

/** Register bytes a builder of this process made (they are copied: a later change to them is seen). */
export function trustBuilt(bytes: Uint8Array): void {
  // new Uint8Array(typed array) copies; a Buffer's slice() would be a view of the same memory
  const copy = new Uint8Array(bytes);
  BUILT.set(bytes, copy);
  // the copy is never handed to a caller (only to onnxruntime, by privateBytes): trusted as itself
  BUILT.set(copy, copy);
}

/**
 * Bytes of the caller's that no later change of theirs can reach: what is checked is what onnxruntime
 * loads, after the awaits between the two. A trusted build's unchanged bytes give the copy made at the
 * build (itself trusted); any other bytes are copied.
 */
export function privateBytes(bytes: Uint8Array): Uint8Array {
  const copy = BUILT.get(bytes);
  if (copy === bytes) return bytes;
  if (copy !== undefined && isTrustedBuild(bytes)) return copy;
  return new Uint8Array(bytes);
}

/** Were these bytes made by a builder of this process, and are they unchanged since? */
export function isTrustedBuild(bytes: Uint8Array): boolean {
  const copy = BUILT.get(bytes);
  if (copy === undefined || copy.byteLength !== bytes.byteLength) return false;
  // a loop, not Buffer: this layer runs in the browser too (loss graphs are kilobytes)
  for (let i = 0; i < copy.byteLength; i++) if (copy[i] !== bytes[i]) return false;
  return true;
}
