/**
 * Write an .npy file whose data arrives in chunks: the header first (the total dims are known), then the
 * data, into `FILE.partial` until it is complete; only then is it renamed to FILE, so a run that fails
 * leaves neither a half-written file nor a lost earlier one.
 */
import { open, rename, rm, type FileHandle } from "node:fs/promises";
import { encodeNpy } from "../io/npy.js";
import { sizeOf, type TensorData, type TensorDType } from "../runtime/tensor.js";

export class NpyWriter {
  private written = 0;
  private closed = false;

  private constructor(
    private readonly file: string,
    private readonly handle: FileHandle,
    private position: number,
    readonly dims: number[],
  ) {}

  static async create(file: string, dtype: TensorDType, dims: number[]): Promise<NpyWriter> {
    const handle = await open(`${file}.partial`, "w");
    // the header of an empty array of these dims: same header bytes, no data
    const empty = { dtype, dims, data: new Uint8Array(0) } as unknown as TensorData;
    try {
      const header = encodeNpy(empty);
      await handle.write(header, 0, header.length, 0);
      return new NpyWriter(file, handle, header.length, dims);
    } catch (e) {
      // a header that cannot be written (a full disk) leaves no open handle and no partial file
      await handle.close().catch(() => undefined);
      await rm(`${file}.partial`, { force: true }).catch(() => undefined);
      throw e;
    }
  }

  async append(data: TensorData["data"]): Promise<void> {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    await this.handle.write(bytes, 0, bytes.length, this.position);
    this.position += bytes.length;
    this.written += data.length;
  }

  async close(): Promise<void> {
    const want = sizeOf(this.dims);
    this.closed = true;
    await this.handle.close();
    if (this.written !== want) {
      await rm(`${this.file}.partial`, { force: true }); // never a file whose header promises more than it holds
      throw new Error(`${this.file}: wrote ${this.written} values, expected ${want}`);
    }
    await rename(`${this.file}.partial`, this.file);
  }

  /** Close and delete a file that was not completed (after an error). */
  async abort(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
    await rm(`${this.file}.partial`, { force: true });
  }
}
