/** The loss catalogue: name -> definition, for the CLI, the web page and `export --all`. */
import { binaryCrossEntropy } from "./binary_cross_entropy.js";
import { binaryCrossEntropyWithLogits } from "./binary_cross_entropy_with_logits.js";
import { crossEntropy } from "./cross_entropy.js";
import { nllLoss } from "./nll_loss.js";
import { nearest, OptionError } from "./options.js";
import { sigmoidFocalLoss } from "./sigmoid_focal_loss.js";
import { softmaxFocalLoss } from "./softmax_focal_loss.js";
import type { LossDefinition } from "./types.js";

/** Every loss, in the order the CLI lists them. */
export const CATALOGUE: readonly LossDefinition[] = Object.freeze([
  crossEntropy,
  nllLoss,
  binaryCrossEntropy,
  binaryCrossEntropyWithLogits,
  softmaxFocalLoss,
  sigmoidFocalLoss,
]);

/** Catalogue names. */
export const LOSS_NAMES: readonly string[] = Object.freeze(CATALOGUE.map((d) => d.name));

/** Loose words users type, mapped to what they most likely mean. */
const ALIASES: Readonly<Record<string, string[]>> = {
  focal: ["softmax_focal_loss", "sigmoid_focal_loss"],
  focal_loss: ["softmax_focal_loss", "sigmoid_focal_loss"],
  ce: ["cross_entropy"],
  crossentropy: ["cross_entropy"],
  bce: ["binary_cross_entropy", "binary_cross_entropy_with_logits"],
  bce_focal_loss: ["sigmoid_focal_loss"],
  nll: ["nll_loss"],
};

/** Look a loss up by name; an unknown name gives an OptionError with the nearest names. */
export function getLoss(name: string): LossDefinition {
  const def = CATALOGUE.find((d) => d.name === name);
  if (def) return def;
  const key = String(name).toLowerCase().replace(/-/g, "_");
  const hints = ALIASES[key] ?? [nearest(key, LOSS_NAMES)].filter((h): h is string => h !== undefined);
  const hint = hints.length ? ` (did you mean ${hints.join(" or ")}?)` : "";
  throw new OptionError(`loss: unknown loss ${JSON.stringify(name)}${hint}; losses are ${LOSS_NAMES.join(", ")}`);
}
