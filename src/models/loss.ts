/** The kind "loss": a catalogue loss graph alone (buildLoss, `onnx-losses export`). */
import { canonicalJson, META } from "../model/contract.js";
import { buildLoss } from "../losses/index.js";
import { checkRebuilt, clip, lossLine, type ModelKind } from "./common.js";

export const lossKind: ModelKind<"loss"> = {
  kind: "loss",
  summary: "a catalogue loss graph (buildLoss, export)",
  verify(contract, info, v) {
    // every build option is in the contract (or, for a model written before they were, read from the graph by decodeContract)
    const { outputs, accumulate } = contract;
    const built = v.user(META.options, () =>
      buildLoss(contract.loss, contract.options, {
        opset: info.opset,
        lowering: contract.lowering,
        dtype: contract.dtype,
        outputs,
        accumulate,
      }),
    );
    checkRebuilt(contract, info, v, built, `${contract.loss} with options ${clip(canonicalJson(contract.options))}`);
    return contract;
  },
  inspect: (contract) => [lossLine(contract)],
  probeRows: false,
};
