import { checkExternalFiles, MAX_MODEL_BYTES, readFileBounded } from "../io/read.js";
import { readLossModel, type LossModel } from "../models/kinds.js";
import { dirname } from "node:path";

/** Where the CLI writes; tests pass their own. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** The working directory relative paths resolve against. */
  cwd: string;
  /** Show progress bars (stderr is a terminal). */
  progress?: boolean;
}

export const processIo: CliIo = {
  out: (t) => process.stdout.write(t.endsWith("\n") ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith("\n") ? t : `${t}\n`),
  cwd: process.cwd(),
  progress: process.stderr.isTTY === true,
};

/**
 * A file's bytes, the CLI's one whole-file reader: a regular file only (a device, FIFO, socket or
 * folder is refused with one line naming the path), its size checked with fstat before the read, read
 * in bounded pieces (io/read.ts). `limit` caps the size (models: MAX_MODEL_BYTES).
 */
export async function readBytes(path: string, options: { limit?: number; what?: string } = {}): Promise<Uint8Array> {
  return readFileBounded(path, { ...options, shown: path });
}

/**
 * A .onnx file given on the command line: its bytes (at most MAX_MODEL_BYTES), decoded and its contract
 * verified, its external data checked against its folder (`dir`). `shown` names it in errors.
 */
export async function readModelArg(path: string, shown: string): Promise<LossModel & { bytes: Uint8Array; dir: string }> {
  const bytes = await readBytes(path, { limit: MAX_MODEL_BYTES, what: "a .onnx model" });
  const decoded = readLossModel(bytes, shown);
  const dir = dirname(path);
  await checkExternalFiles(decoded.info.externalData, dir, shown);
  return { ...decoded, bytes, dir };
}
