/** Op functions, one family per file. Each takes Values of one Graph and appends nodes to it. */
export * from "./elementwise.js";
export * from "./reduce.js";
export * from "./tensor.js";
export * from "./nn.js";
