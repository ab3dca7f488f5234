/** The kind "step": a training step built around a loss (linearHeadStep, key onnx_losses.step). */
import { canonicalJson, META } from "../model/contract.js";
import { linearHeadStep } from "../losses/linear_head.js";
import { checkRebuilt, clip, lossLine, type ModelKind } from "./common.js";

export const stepKind: ModelKind<"step"> = {
  kind: "step",
  summary: "a training step around a loss (linearHeadStep, key onnx_losses.step)",
  verify(contract, info, v) {
    // rebuilt from the loss, its options and lr: the same graph, so the checks cannot be edited away
    const { step } = contract;
    const built = v.user(META.step, () =>
      linearHeadStep(
        contract.loss,
        contract.options,
        { lr: step.lr },
        { opset: info.opset, lowering: contract.lowering, dtype: contract.dtype, accumulate: contract.accumulate },
      ),
    );
    const these = `${contract.loss} with options ${clip(canonicalJson(contract.options))} in a linear-head step with lr ${step.lr}`;
    checkRebuilt(contract, info, v, built, these);
    return contract;
  },
  inspect: (contract) => [
    lossLine(contract),
    `  a training step around the loss: ${contract.step.kind}, lr ${contract.step.lr} (outputs the updated parameters)`,
  ],
  probeRows: false,
};
