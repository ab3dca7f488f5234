/** Written into every model's producer fields: fixed per release so graphs stay byte-identical. */
export const PRODUCER_NAME = "onnx-losses";
export const PRODUCER_VERSION = "0.1.0";
