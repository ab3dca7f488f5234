/**
 * Write a tensor file (OUTPUT_FORMAT, .npy) whose data arrives in chunks: the header first (the total
 * dims are known), then the data, into `FILE.partial` until it is complete; only then is it renamed to
 * FILE, so a run that fails leaves neither a half-written file nor a lost earlier one.
 */
import { rename, rm, type FileHandle } from "node:fs/promises";
import { sizeOf, type TensorData, type TensorDType } from "../tensor/tensor.js";
import { openForWrite, withPath } from "./files.js";
import { OUTPUT_FORMAT, type TensorFormat } from "./formats.js";

export class TensorFileWriter {
  private written = 0;
  private closed = false;

  private constructor(
    private readonly file: string,
    private readonly handle: FileHandle,
    private position: number,
    readonly dims: number[],
  ) {}

  static async create(file: string, dtype: TensorDType, dims: number[], format: TensorFormat = OUTPUT_FORMAT): Promise<TensorFileWriter> {
    const header = format.header(dtype, dims);
    // not through a link put at FILE.partial; write errors (a full disk) name the file
    const handle = await openForWrite(`${file}.partial`);
    try {
      await handle.write(header, 0, header.length, 0);
    } catch (e) {
      await handle.close();
      await rm(`${file}.partial`, { force: true });
      throw withPath(e, file);
    }
    return new TensorFileWriter(file, handle, header.length, dims);
  }

  async append(data: TensorData["data"]): Promise<void> {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    try {
      // a write may take fewer bytes than asked (Linux writes at most 2^31 - 4096 at a time)
      for (let done = 0; done < bytes.length; ) {
        const { bytesWritten } = await this.handle.write(bytes, done, bytes.length - done, this.position + done);
        done += bytesWritten;
      }
    } catch (e) {
      throw withPath(e, this.file);
    }
    this.position += bytes.length;
    this.written += data.length;
  }

  /** Finish and commit: close() for a file written alone. */
  async close(): Promise<void> {
    await this.finish();
    await this.commit();
  }

  /**
   * Close the data, checking that it holds the values the header promises; the file stays
   * FILE.partial until commit(), so that several outputs appear together or not at all.
   */
  async finish(): Promise<void> {
    const want = sizeOf(this.dims);
    this.closed = true;
    try {
      await this.handle.close();
    } catch (e) {
      await rm(`${this.file}.partial`, { force: true });
      throw withPath(e, this.file);
    }
    if (this.written !== want) {
      await rm(`${this.file}.partial`, { force: true }); // never a file whose header promises more than it holds
      throw new Error(`${this.file}: wrote ${this.written} values, expected ${want}`);
    }
  }

  /** Rename a finished FILE.partial to FILE. */
  async commit(): Promise<void> {
    try {
      await rename(`${this.file}.partial`, this.file);
    } catch (e) {
      throw withPath(e, this.file);
    }
    this.committed = true;
  }

  private committed = false;

  /** Close and delete a file that was not completed (after an error). */
  async abort(): Promise<void> {
    if (this.committed) return;
    if (!this.closed) {
      this.closed = true;
      await this.handle.close();
    }
    await rm(`${this.file}.partial`, { force: true });
  }
}
