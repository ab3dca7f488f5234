/**
 * The loss catalogue: every loss, in the order the CLI lists them. The CLI, the web page, `export --all`
 * and the types (`LossName`, `LossOptions<K>`) all derive from this one list: adding a loss is its file
 * and one line here (see docs/adding-a-loss.md).
 */
import { binaryCrossEntropy } from "./binary_cross_entropy.js";
import { binaryCrossEntropyWithLogits } from "./binary_cross_entropy_with_logits.js";
import { crossEntropy } from "./cross_entropy.js";
import { nllLoss } from "./nll_loss.js";
import { nearest, OptionError } from "./options.js";
import { sigmoidFocalLoss } from "./sigmoid_focal_loss.js";
import { softmaxFocalLoss } from "./softmax_focal_loss.js";
import type { LossDefinition, OptionsOf } from "./types.js";

/** Every loss, in the order the CLI lists them. */
export const CATALOGUE = Object.freeze([
  crossEntropy,
  nllLoss,
  binaryCrossEntropy,
  binaryCrossEntropyWithLogits,
  softmaxFocalLoss,
  sigmoidFocalLoss,
] as const);

/** A catalogue loss name. */
export type LossName = (typeof CATALOGUE)[number]["name"];

/** The resolved options of catalogue loss `K` (every field set), inferred from its schema. */
export type LossOptions<K extends LossName> = OptionsOf<Extract<(typeof CATALOGUE)[number], { name: K }>>;

/** Each catalogue loss's resolved options, by name. */
export type LossOptionsMap = { [K in LossName]: LossOptions<K> };

/** Catalogue names. */
export const LOSS_NAMES: readonly LossName[] = Object.freeze(CATALOGUE.map((d) => d.name));

/** Loose words users type, mapped to what they most likely mean. */
const ALIASES: Readonly<Record<string, LossName[]>> = {
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
  if (def) return def as LossDefinition;
  const key = String(name).toLowerCase().replace(/-/g, "_");
  const hints =
    (Object.hasOwn(ALIASES, key) ? ALIASES[key] : undefined) ?? [nearest(key, LOSS_NAMES)].filter((h): h is string => h !== undefined);
  const hint = hints.length ? ` (did you mean ${hints.join(" or ")}?)` : "";
  const shown = JSON.stringify(String(name).length > 60 ? `${String(name).slice(0, 57)}...` : String(name));
  throw OptionError.worded((n) => `${n("loss")}: unknown loss ${shown}${hint}; losses are ${LOSS_NAMES.join(", ")}`);
}
