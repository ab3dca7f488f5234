/**
 * Jest runs each test file in its own V8 context, whose Float32Array is not the one onnxruntime-node's
 * native binding returns: ORT's `data instanceof Float32Array` check then fails on every output. This
 * environment shares the main context's typed-array and ArrayBuffer constructors with the tests.
 */
const { TestEnvironment } = require("jest-environment-node");

class SharedTypedArraysEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of [
      "ArrayBuffer",
      "SharedArrayBuffer",
      "DataView",
      "Float32Array",
      "Float64Array",
      "Int8Array",
      "Int16Array",
      "Int32Array",
      "Uint8Array",
      "Uint8ClampedArray",
      "Uint16Array",
      "Uint32Array",
      "BigInt64Array",
      "BigUint64Array",
    ]) {
      this.global[name] = globalThis[name];
    }
  }
}

module.exports = SharedTypedArraysEnvironment;
