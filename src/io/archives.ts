/**
 * Archives of named tensors: NumPy .npz (np.savez and np.savez_compressed: a zip of .npy members) and
 * .safetensors (an 8-byte little-endian header length, a JSON header, the raw data). The zip directory
 * and the safetensors header are parsed here; fflate inflates deflated members, in bounded pieces. Every
 * index is read by offset (the end of the central directory, the central directory, each local header;
 * the safetensors header), so a member or tensor of an archive on disk streams without the file being
 * loaded. A PyTorch pickle (torch.save) is refused in one line that says what to save instead.
 *
 * Pure (no Node module): the web entry decodes with it too.
 * https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT, https://github.com/huggingface/safetensors
 */
import { Inflate } from "fflate";
import { UserError } from "../errors.js";
import { DTYPES, type DType, typedArrayOf } from "../onnx/dtypes.js";
import type { TensorData } from "../tensor/tensor.js";
import { sizeOf } from "../tensor/tensor.js";
import type { ByteSource, OpenedTensor } from "./formats.js";
import { decodeNpy, NPY_FORMAT } from "./npy.js";
import { looksLike } from "../util/sniff.js";

/** A malformed, hostile or unsupported archive, or a pickle. */
export class ArchiveError extends UserError {
  override name = "ArchiveError";
}

/** The most members a .npz may list (numpy writes one per array). */
export const MAX_ARCHIVE_MEMBERS = 65536;
/** The largest central directory read (46 bytes and the name per member). */
export const MAX_CENTRAL_DIRECTORY_BYTES = 64 * 2 ** 20;
/** What deflated members may inflate to, all members of one read together (a zip bomb stops here). */
export const MAX_INFLATED_BYTES = 2 ** 30;
/** The longest safetensors header read: 100 MB, the Rust safetensors crate's limit. */
export const MAX_SAFETENSORS_HEADER_BYTES = 100_000_000;

/**
 * What deflated members may still inflate to: one per read of files (decodeNpz's, an eval's inputs
 * together), so that several members or several inputs of one archive share MAX_INFLATED_BYTES.
 */
export interface InflateBudget {
  left: number;
}

/** A fresh budget of MAX_INFLATED_BYTES. */
export function inflateBudget(): InflateBudget {
  return { left: MAX_INFLATED_BYTES };
}

/** Archive formats, as errors and the seam name them. */
export type ArchiveKind = "npz" | "safetensors";

/** A read of `len` bytes at `pos` that an index parser asks for. */
interface Want {
  pos: number;
  len: number;
}
type Reads<T> = Generator<Want, T, Uint8Array>;

/** Run an index parser over bytes in memory. */
function runSync<T>(g: Reads<T>, bytes: Uint8Array): T {
  let step = g.next();
  while (!step.done) step = g.next(bytes.subarray(step.value.pos, step.value.pos + step.value.len));
  return step.value;
}

/** Run an index parser over a ByteSource (reads of what it asks, fewer bytes only at the end). */
async function runAsync<T>(g: Reads<T>, source: ByteSource): Promise<T> {
  let step = g.next();
  while (!step.done) {
    const { pos, len } = step.value;
    const view = new Uint8Array(Math.max(0, Math.min(len, source.size - pos)));
    let done = 0;
    while (done < view.length) {
      const n = await source.read(view.subarray(done), pos + done);
      if (n === 0) break;
      done += n;
    }
    step = g.next(view.subarray(0, done));
  }
  return step.value;
}

const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
const u64 = (b: Uint8Array, at: number) => Number(dv(b).getBigUint64(at, true));

// ---------------------------------------------------------------------------------------------------
// PyTorch pickles

const PICKLE_LINE =
  "a PyTorch pickle (torch.save), which onnx-losses does not read (loading a pickle runs its code): save the tensors with numpy.save or numpy.savez (np.savez(path, input=t.detach().cpu().numpy(), ...)), or with safetensors.torch.save_file";

/** Do a file's first bytes start a pickle (torch.save's legacy format, protocol 2 to 5)? */
export function isPickle(head: Uint8Array): boolean {
  return head[0] === 0x80 && head[1] >= 2 && head[1] <= 5;
}

/** The one line for a pickle or a torch.save zip. */
export function pickleError(shown: string): ArchiveError {
  return new ArchiveError(`${shown}: ${PICKLE_LINE}`);
}

// ---------------------------------------------------------------------------------------------------
// zip (.npz)

/** A member of a zip, from its central directory entry and local header. */
export interface ZipMember {
  /** The member's name in the zip (`input.npy`). */
  readonly name: string;
  /** The array's key: the name without `.npy`, as np.load names it. */
  readonly key: string;
  /** 0 stored, 8 deflated. */
  readonly method: number;
  readonly crc: number;
  readonly compressedSize: number;
  readonly size: number;
  /** Where its local header starts, and its (compressed) data. */
  readonly localOffset: number;
  readonly dataStart: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_END = 0x06054b50;
const SIG_END64 = 0x06064b50;
const SIG_LOCATOR64 = 0x07064b50;

/** Do a file's first bytes start a zip (a local header, or the end record of an empty zip)? */
export function isZip(head: Uint8Array): boolean {
  return head[0] === 0x50 && head[1] === 0x4b && ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6));
}

/** The zip64 extended information extra field (id 1): the 64-bit values of the fields that read 0xFFFFFFFF. */
function zip64Extra(extra: Uint8Array, fields: { size: number; csize: number; offset: number }, fail: (why: string) => never) {
  const v = dv(extra);
  for (let i = 0; i + 4 <= extra.length; ) {
    const id = v.getUint16(i, true);
    const len = v.getUint16(i + 2, true);
    if (i + 4 + len > extra.length) fail("an extra field runs past its entry");
    if (id === 1) {
      let at = i + 4;
      const take = (): number => {
        if (at + 8 > i + 4 + len) fail("a zip64 extra field shorter than the sizes it stands for");
        const n = u64(extra, at);
        at += 8;
        if (!Number.isSafeInteger(n)) fail("a zip64 size of 2^53 or more");
        return n;
      };
      const out = { ...fields };
      if (fields.size === 0xffffffff) out.size = take();
      if (fields.csize === 0xffffffff) out.csize = take();
      if (fields.offset === 0xffffffff) out.offset = take();
      return out;
    }
    i += 4 + len;
  }
  return fields;
}

/** The members of a zip of `size` bytes: the end record, the central directory, each local header. */
function* zipIndex(size: number, shown: string): Reads<ZipMember[]> {
  const fail = (why: string): never => {
    throw new ArchiveError(`${shown}: not a readable .npz (zip) archive: ${why}`);
  };
  // the end of central directory record: 22 bytes and a comment of at most 65535, at the end
  const tailLen = Math.min(size, 22 + 65535 + 20);
  const tailPos = size - tailLen;
  const tail = yield { pos: tailPos, len: tailLen };
  if (tail.length < tailLen) fail("the file ended while it was read");
  let end = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (dv(tail).getUint32(i, true) === SIG_END && i + 22 + dv(tail).getUint16(i + 20, true) === tail.length) {
      end = i;
      break;
    }
  }
  if (end < 0) fail("no end of central directory record (a truncated file, or not a zip)");
  const e = dv(tail);
  let count = e.getUint16(end + 10, true);
  let cdSize = e.getUint32(end + 12, true);
  let cdOffset = e.getUint32(end + 16, true);
  if (e.getUint16(end + 4, true) !== 0 || e.getUint16(end + 6, true) !== 0) fail("a multi-disk (split) archive");
  let endPos = tailPos + end;
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    // zip64: a locator just before the end record says where the zip64 end record is
    if (end < 20 || e.getUint32(end - 20, true) !== SIG_LOCATOR64) fail("zip64 sizes without a zip64 end locator");
    const at = u64(tail, end - 12); // the locator: signature, disk, the record's offset, disks
    if (!Number.isSafeInteger(at) || at + 56 > tailPos + end - 20) fail("a zip64 end record outside the file");
    const rec = yield { pos: at, len: 56 };
    if (rec.length < 56 || dv(rec).getUint32(0, true) !== SIG_END64) fail("no zip64 end record where its locator says");
    count = u64(rec, 32);
    cdSize = u64(rec, 40);
    cdOffset = u64(rec, 48);
    endPos = at;
  }
  if (count > MAX_ARCHIVE_MEMBERS) fail(`${count} members, more than the ${MAX_ARCHIVE_MEMBERS} read`);
  if (cdSize > MAX_CENTRAL_DIRECTORY_BYTES)
    fail(`a central directory of ${cdSize} bytes, more than the ${MAX_CENTRAL_DIRECTORY_BYTES} read`);
  if (!Number.isSafeInteger(cdOffset) || cdOffset + cdSize > endPos)
    fail(`a central directory (offset ${cdOffset}, ${cdSize} bytes) past its end record at ${endPos}`);
  const cd = yield { pos: cdOffset, len: cdSize };
  if (cd.length < cdSize) fail("the central directory ended early");
  const c = dv(cd);
  const entries: {
    name: string;
    method: number;
    flags: number;
    crc: number;
    csize: number;
    size: number;
    offset: number;
    raw: Uint8Array;
  }[] = [];
  const seen = new Set<string>();
  let at = 0;
  for (let k = 0; k < count; k++) {
    if (at + 46 > cd.length || c.getUint32(at, true) !== SIG_CENTRAL) fail(`central directory entry ${k} is not where the directory says`);
    const flags = c.getUint16(at + 8, true);
    const method = c.getUint16(at + 10, true);
    const crc = c.getUint32(at + 16, true);
    const nameLen = c.getUint16(at + 28, true);
    const extraLen = c.getUint16(at + 30, true);
    const commentLen = c.getUint16(at + 32, true);
    if (at + 46 + nameLen + extraLen + commentLen > cd.length) fail(`central directory entry ${k} runs past the directory`);
    const raw = cd.subarray(at + 46, at + 46 + nameLen);
    const name = new TextDecoder().decode(raw);
    const fields = zip64Extra(
      cd.subarray(at + 46 + nameLen, at + 46 + nameLen + extraLen),
      { csize: c.getUint32(at + 20, true), size: c.getUint32(at + 24, true), offset: c.getUint32(at + 42, true) },
      fail,
    );
    if (seen.has(name)) fail(`the member name ${JSON.stringify(name)} twice`);
    seen.add(name);
    if (flags & 1) fail(`member ${name} is encrypted`);
    entries.push({ name, method, flags, crc, csize: fields.csize, size: fields.size, offset: fields.offset, raw });
    at += 46 + nameLen + extraLen + commentLen;
  }
  if (at !== cd.length) fail(`a central directory of ${cdSize} bytes whose ${count} entries take ${at}`);
  const members: ZipMember[] = [];
  for (const m of entries) {
    const lh = yield { pos: m.offset, len: 30 };
    if (lh.length < 30 || dv(lh).getUint32(0, true) !== SIG_LOCAL) fail(`member ${m.name}: no local header at offset ${m.offset}`);
    const nameLen = dv(lh).getUint16(26, true);
    const extraLen = dv(lh).getUint16(28, true);
    const localName = yield { pos: m.offset + 30, len: nameLen };
    if (localName.length !== m.raw.length || localName.some((b, i) => b !== m.raw[i]))
      fail(`member ${m.name}: its local header names another member`);
    const dataStart = m.offset + 30 + nameLen + extraLen;
    if (dataStart + m.csize > cdOffset)
      fail(`member ${m.name}: ${m.csize} bytes at offset ${dataStart} run into the central directory at ${cdOffset}`);
    if (m.method === 0 && m.csize !== m.size) fail(`member ${m.name}: stored, yet ${m.csize} bytes that stand for ${m.size}`);
    const key = m.name.endsWith(".npy") ? m.name.slice(0, -4) : m.name;
    if (members.some((o) => o.key === key)) fail(`two members for the array ${JSON.stringify(key)}`);
    members.push({
      name: m.name,
      key,
      method: m.method,
      crc: m.crc,
      compressedSize: m.csize,
      size: m.size,
      localOffset: m.offset,
      dataStart,
    });
  }
  // members may not overlap (overlapping members are how a small zip bomb makes many large files)
  const sorted = [...members].sort((a, b) => a.localOffset - b.localOffset);
  for (let i = 1; i < sorted.length; i++)
    if (sorted[i - 1].dataStart + sorted[i - 1].compressedSize > sorted[i].localOffset)
      fail(`members ${sorted[i - 1].name} and ${sorted[i].name} overlap`);
  if (members.some((m) => /(^|\/)data\.pkl$/.test(m.name))) throw pickleError(shown);
  return members;
}

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** The running CRC-32 state `c` (start -1) carried over `bytes`; the CRC is `(c ^ -1) >>> 0` at the end. */
function crc32Update(c: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return c;
}

function crc32(bytes: Uint8Array): number {
  return (crc32Update(-1, bytes) ^ -1) >>> 0;
}

/** The one line for a member whose bytes do not have the CRC-32 its directory entry records. */
function crcError(what: string, got: number, m: ZipMember): ArchiveError {
  return new ArchiveError(`${what}: CRC-32 ${got.toString(16)} where the directory says ${m.crc.toString(16)}`);
}

/**
 * Reads of a member's bytes by offset (`read`, of the stored or inflated bytes) with its CRC-32 checked
 * when the reads reach its end: the CRC runs over the bytes in order as they are read; a read past the
 * bytes checked so far reads the gap first (streaming reads a header, then rows in order, so the gap is
 * the header's padding at most), and a read of bytes already checked adds nothing. A member read to its
 * end with other bytes than its CRC says is refused there, before its last rows are used.
 */
function crcChecked(
  read: (view: Uint8Array, at: number) => Promise<number>,
  m: ZipMember,
  what: string,
): (view: Uint8Array, at: number) => Promise<number> {
  let c = -1;
  let checked = 0; // bytes [0, checked) are in c
  const extend = (bytes: Uint8Array, at: number) => {
    if (at + bytes.length <= checked) return;
    c = crc32Update(c, bytes.subarray(checked - at));
    checked = at + bytes.length;
    if (checked === m.size && (c ^ -1) >>> 0 !== m.crc) throw crcError(what, (c ^ -1) >>> 0, m);
  };
  return async (view, at) => {
    while (checked < at) {
      const gap = new Uint8Array(Math.min(at - checked, 65536));
      const n = await read(gap, checked);
      if (n === 0) break;
      extend(gap.subarray(0, n), checked);
    }
    const n = await read(view, at);
    if (at <= checked) extend(view.subarray(0, n), at);
    return n;
  };
}

/**
 * A deflated member's bytes, inflated in pieces of 16 KiB (at most about 16 MiB out per piece, deflate's
 * ratio being at most 1032:1), refused as soon as they pass the declared size or `budget`.
 */
function inflateMember(data: Uint8Array, m: ZipMember, budget: InflateBudget, what: string): Uint8Array {
  if (m.size > budget.left) {
    const left = budget.left === MAX_INFLATED_BYTES ? "" : ` (${budget.left} left after the members inflated before it)`;
    throw new ArchiveError(
      `${what}: inflates to ${m.size} bytes, more than the ${MAX_INFLATED_BYTES} bytes a read inflates (MAX_INFLATED_BYTES)${left}; save with np.savez (uncompressed) and stream it`,
    );
  }
  // the pieces kept as they come, joined at the end: what is held is what the data inflates to, never
  // more than it declares (a few bytes declaring 1 GiB allocate nothing of it)
  const pieces: Uint8Array[] = [];
  let got = 0;
  let over = false;
  const inf = new Inflate((chunk) => {
    if (over || got + chunk.length > m.size) {
      over = true;
      return;
    }
    pieces.push(chunk);
    got += chunk.length;
  });
  try {
    for (let i = 0; i < data.length && !over; i += 16384) inf.push(data.subarray(i, i + 16384), i + 16384 >= data.length);
    if (data.length === 0) inf.push(new Uint8Array(0), true);
  } catch (e) {
    throw new ArchiveError(`${what}: its deflated data is corrupt (${(e as Error).message})`);
  }
  if (over) throw new ArchiveError(`${what}: inflates beyond its declared ${m.size} bytes (a zip bomb, or a lying directory)`);
  if (got !== m.size) throw new ArchiveError(`${what}: inflates to ${got} bytes where the directory says ${m.size}`);
  budget.left -= m.size;
  const out = new Uint8Array(m.size);
  let at = 0;
  for (const p of pieces.splice(0)) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Reads of a deflated member's inflated bytes by offset, for streaming: inflated in order from the start,
 * 16 KiB of deflated data at a time, bytes before the offset asked dropped; a read before the last one
 * starts again from the beginning (streaming reads rows in order, so once). Refused as soon as the data
 * inflates past its declared size.
 */
function inflater(source: ByteSource, m: ZipMember, what: string): (view: Uint8Array, at: number) => Promise<number> {
  let queue: Uint8Array[] = [];
  let pos = 0; // the inflated offset of queue[0]
  let cpos = 0; // deflated bytes pushed
  let total = 0; // inflated bytes so far
  let over = false;
  let inf: Inflate;
  const reset = () => {
    queue = [];
    pos = cpos = total = 0;
    over = false;
    inf = new Inflate((chunk) => {
      total += chunk.length;
      if (total > m.size) over = true;
      else if (chunk.length > 0) queue.push(chunk);
    });
  };
  reset();
  const pump = async () => {
    if (cpos >= m.compressedSize) throw new ArchiveError(`${what}: inflates to ${total} bytes where the directory says ${m.size}`);
    const piece = new Uint8Array(Math.min(16384, m.compressedSize - cpos));
    for (let done = 0; done < piece.length; ) {
      const n = await source.read(piece.subarray(done), m.dataStart + cpos + done);
      if (n === 0) throw new ArchiveError(`${what}: ends past the end of the file`);
      done += n;
    }
    cpos += piece.length;
    try {
      inf.push(piece, cpos >= m.compressedSize);
    } catch (e) {
      throw new ArchiveError(`${what}: its deflated data is corrupt (${(e as Error).message})`);
    }
    if (over) throw new ArchiveError(`${what}: inflates beyond its declared ${m.size} bytes (a zip bomb, or a lying directory)`);
    if (cpos >= m.compressedSize && total !== m.size)
      throw new ArchiveError(`${what}: inflates to ${total} bytes where the directory says ${m.size}`);
  };
  return async (view, at) => {
    if (at < pos) reset();
    let done = 0;
    while (done < view.length) {
      if (queue.length === 0) {
        await pump();
        continue;
      }
      const head = queue[0];
      const want = at + done;
      if (want >= pos + head.length) {
        pos += head.length;
        queue.shift();
        continue;
      }
      const off = want - pos;
      const n = Math.min(head.length - off, view.length - done);
      view.set(head.subarray(off, off + n), done);
      done += n;
    }
    return done;
  };
}

/** A member's .npy bytes, inflated when deflated, its CRC checked. */
function memberBytes(bytes: Uint8Array, m: ZipMember, budget: InflateBudget, shown: string): Uint8Array {
  const what = `${shown}: member ${m.name}`;
  const data = bytes.subarray(m.dataStart, m.dataStart + m.compressedSize);
  if (data.length < m.compressedSize) throw new ArchiveError(`${what}: ends past the end of the file`);
  let out: Uint8Array;
  if (m.method === 0) out = data;
  else if (m.method === 8) out = inflateMember(data, m, budget, what);
  else throw new ArchiveError(`${what}: compression method ${m.method}, expected stored (0) or deflate (8) as numpy writes`);
  const crc = crc32(out);
  if (crc !== m.crc) throw crcError(what, crc, m);
  return out;
}

/** The arrays of a .npz's bytes, by key (`input` for the member `input.npy`). `shown` names the file in errors. */
export function decodeNpz(bytes: Uint8Array, shown = "npz"): Record<string, TensorData> {
  const members = runSync(zipIndex(bytes.length, shown), bytes);
  const budget = inflateBudget();
  const out = Object.create(null) as Record<string, TensorData>;
  for (const m of members) out[m.key] = decodeNpy(memberBytes(bytes, m, budget, shown), `${shown}: member ${m.name}`);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// safetensors

/** Bytes per element of every safetensors dtype (the ones read are in READ below). */
const ST_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
};

/** The dtype each read safetensors dtype becomes: BF16 is widened to float32 (exactly), U8 to int32. */
const READ: Readonly<Record<string, DType>> = {
  F32: "float32",
  F64: "float64",
  F16: "float16",
  BF16: "float32",
  I64: "int64",
  I32: "int32",
  U8: "int32",
  BOOL: "bool",
};

/** A tensor of a safetensors file: its dtype as the file says, dims, and where its bytes are. */
export interface SafetensorsEntry {
  readonly key: string;
  readonly fileDtype: string;
  readonly dims: readonly number[];
  /** Absolute offsets of its bytes in the file. */
  readonly begin: number;
  readonly end: number;
}

/** Do a file's first bytes start a safetensors file (a header length below 2^48, then "{")? */
export function isSafetensors(head: Uint8Array): boolean {
  return head.length >= 9 && head[8] === 0x7b && head[6] === 0 && head[7] === 0;
}

/**
 * The first key that a JSON object's text (valid JSON, already parsed) has twice at its top level, or
 * undefined: a scan of the top level's keys, strings skipped with their escapes and nested values by depth.
 */
function duplicateKey(text: string): string | undefined {
  const seen = new Set<string>();
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      const start = i;
      for (i++; text[i] !== '"'; i++) if (text[i] === "\\") i++;
      if (depth === 1 && expectKey) {
        const key = JSON.parse(text.slice(start, i + 1)) as string;
        if (seen.has(key)) return key;
        seen.add(key);
        expectKey = false;
      }
    } else if (ch === "{" || ch === "[") {
      depth++;
      expectKey = depth === 1;
    } else if (ch === "}" || ch === "]") depth--;
    else if (ch === "," && depth === 1) expectKey = true;
  }
  return undefined;
}

function* safetensorsIndex(size: number, shown: string): Reads<SafetensorsEntry[]> {
  const fail = (why: string): never => {
    throw new ArchiveError(`${shown}: not a readable .safetensors file: ${why}`);
  };
  const pre = yield { pos: 0, len: 8 };
  if (pre.length < 8) fail("shorter than its 8-byte header length");
  const n = u64(pre, 0);
  if (n > MAX_SAFETENSORS_HEADER_BYTES) fail(`a header of ${n} bytes, more than the ${MAX_SAFETENSORS_HEADER_BYTES} read`);
  if (8 + n > size) fail(`a header of ${n} bytes, the file has ${size}`);
  const head = yield { pos: 8, len: n };
  if (head.length < n) fail("the header ended early");
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(head));
  } catch (e) {
    return fail(`its header is not UTF-8 JSON (${(e as Error).message})`);
  }
  if (!json || typeof json !== "object" || Array.isArray(json)) return fail("its header is not a JSON object");
  const twice = duplicateKey(new TextDecoder().decode(head));
  if (twice !== undefined) fail(`the key ${JSON.stringify(twice)} twice in its header (JSON.parse would keep the last)`);
  const dataStart = 8 + n;
  const entries: SafetensorsEntry[] = [];
  for (const [key, v] of Object.entries(json as Record<string, unknown>)) {
    if (key === "__metadata__") {
      if (!v || typeof v !== "object" || Array.isArray(v) || Object.values(v).some((s) => typeof s !== "string"))
        fail("__metadata__ is not an object of strings");
      continue;
    }
    const t = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!t || typeof t !== "object" || Array.isArray(t) || Object.keys(t).some((k) => !["dtype", "shape", "data_offsets"].includes(k)))
      fail(`tensor ${JSON.stringify(key)}: expected an object of dtype, shape and data_offsets`);
    if (typeof t.dtype !== "string" || !Object.hasOwn(ST_BYTES, t.dtype))
      fail(`tensor ${JSON.stringify(key)}: dtype ${JSON.stringify(t.dtype)} is not a safetensors dtype`);
    const ints = (a: unknown, len?: number) =>
      Array.isArray(a) && (len === undefined || a.length === len) && a.every((d) => Number.isSafeInteger(d) && d >= 0);
    if (!ints(t.shape)) fail(`tensor ${JSON.stringify(key)}: shape is not a list of non-negative integers`);
    if (!ints(t.data_offsets, 2)) fail(`tensor ${JSON.stringify(key)}: data_offsets is not two non-negative integers`);
    const dims = t.shape as number[];
    const [b, e] = t.data_offsets as number[];
    const need = sizeOf(dims) * ST_BYTES[t.dtype as string];
    if (e < b || e - b !== need)
      fail(`tensor ${JSON.stringify(key)}: data_offsets [${b}, ${e}] hold ${e - b} bytes, ${t.dtype} [${dims.join(", ")}] takes ${need}`);
    entries.push({ key, fileDtype: t.dtype as string, dims, begin: dataStart + b, end: dataStart + e });
  }
  // the tensors cover the data exactly, in order, without overlap or a gap (as the Rust crate checks)
  const sorted = [...entries].sort((x, y) => x.begin - y.begin || x.end - y.end);
  let at = dataStart;
  for (const t of sorted) {
    if (t.begin < at) fail(`tensor ${JSON.stringify(t.key)} overlaps the tensor before it`);
    if (t.begin > at) fail(`${t.begin - at} bytes before tensor ${JSON.stringify(t.key)} that no tensor holds`);
    at = t.end;
  }
  if (at !== size)
    fail(
      at > size ? `its tensors end at byte ${at}, the file has ${size}` : `${size - at} bytes after the last tensor that no tensor holds`,
    );
  return entries;
}

/** The project dtype a safetensors tensor is read as, or a refusal naming its dtype. */
function readDtype(t: SafetensorsEntry, shown: string): DType {
  const d = READ[t.fileDtype];
  if (!d)
    throw new ArchiveError(
      `${shown}: tensor ${t.key}: dtype ${t.fileDtype} is not read (expected one of ${Object.keys(READ).join(", ")}; BF16 is widened to float32, U8 to int32)`,
    );
  return d;
}

/**
 * `raw` bytes of a safetensors tensor as the project's dtype holds them (BF16 and U8 widened); a BOOL
 * byte other than 0 or 1 is refused (the Rust crate and PyTorch write only those; `what` names the
 * tensor, `first` the index of raw's first element in it).
 */
function convert(fileDtype: string, raw: Uint8Array, out: Uint8Array, what: string, first = 0): void {
  // byte by byte, little-endian: neither view need be aligned
  if (fileDtype === "BOOL") {
    const bad = raw.findIndex((b) => b > 1);
    if (bad >= 0) throw new ArchiveError(`${what}: BOOL element ${first + bad} is byte ${raw[bad]}, expected 0 or 1`);
    out.set(raw);
  } else if (fileDtype === "BF16") {
    out.fill(0);
    for (let i = 0; 2 * i < raw.length; i++) {
      out[4 * i + 2] = raw[2 * i];
      out[4 * i + 3] = raw[2 * i + 1];
    }
  } else if (fileDtype === "U8") {
    out.fill(0);
    for (let i = 0; i < raw.length; i++) out[4 * i] = raw[i];
  } else out.set(raw);
}

/** A safetensors tensor from the file's bytes. */
function decodeEntry(bytes: Uint8Array, t: SafetensorsEntry, shown: string): TensorData {
  const dtype = readDtype(t, shown);
  const out = new Uint8Array(sizeOf(t.dims) * DTYPES[dtype].bytes);
  // copied to an aligned buffer first: a tensor's offset need not be a multiple of its element size
  convert(t.fileDtype, Uint8Array.prototype.slice.call(bytes, t.begin, t.end), out, `${shown}: tensor ${t.key}`);
  return { dtype, dims: [...t.dims], data: typedArrayOf(dtype, out.buffer) } as TensorData;
}

/** The tensors of a .safetensors file's bytes, by name. `shown` names the file in errors. */
export function decodeSafetensors(bytes: Uint8Array, shown = "safetensors"): Record<string, TensorData> {
  const entries = runSync(safetensorsIndex(bytes.length, shown), bytes);
  const out = Object.create(null) as Record<string, TensorData>;
  for (const t of entries) out[t.key] = decodeEntry(bytes, t, shown);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// both, for the seam

/** Which archive a file's first bytes start, if any (a pickle is refused here). */
export function archiveKind(head: Uint8Array, shown: string): ArchiveKind | undefined {
  if (isPickle(head)) throw pickleError(shown);
  if (isZip(head)) return "npz";
  if (isSafetensors(head)) return "safetensors";
  return undefined;
}

/**
 * Every named tensor of a .npz or .safetensors file's bytes (the kind told by the first bytes). A
 * PyTorch pickle, or bytes of neither, are refused in one line. `shown` names the file in errors.
 */
export function readTensors(bytes: Uint8Array, shown = "archive"): Record<string, TensorData> {
  const kind = archiveKind(bytes.subarray(0, 16), shown);
  if (kind === "npz") return decodeNpz(bytes, shown);
  if (kind === "safetensors") return decodeSafetensors(bytes, shown);
  if (NPY_FORMAT.matches(bytes.subarray(0, 16)))
    throw new ArchiveError(`${shown}: a .npy file, which holds one array: decode it with decodeNpy, or save several with np.savez`);
  throw new ArchiveError(
    `${shown}: expected a .npz (zip) or .safetensors archive, received ${looksLike(bytes.subarray(0, 16)) ?? "other bytes"}`,
  );
}

/** The array `key` of an archive's index (zip members or safetensors entries), or a refusal naming the ones it holds. */
function pick<T extends { readonly key: string }>(index: readonly T[], shown: string, key: string): T {
  const found = index.find((x) => x.key === key);
  if (found) return found;
  const keys = index.map((x) => JSON.stringify(x.key));
  throw new ArchiveError(`${shown}: no array ${JSON.stringify(key)} (it holds ${keys.length === 0 ? "none" : keys.join(", ")})`);
}

/**
 * One array of an archive's bytes, decoded alone (the others not inflated); `budget` is shared by the
 * reads of one evaluation's inputs.
 */
export function decodeArchiveMember(
  bytes: Uint8Array,
  kind: ArchiveKind,
  shown: string,
  key: string,
  budget: InflateBudget = inflateBudget(),
): TensorData {
  if (kind === "npz") {
    const m = pick(runSync(zipIndex(bytes.length, shown), bytes), shown, key);
    return decodeNpy(memberBytes(bytes, m, budget, shown), `${shown}: member ${m.name}`);
  }
  return decodeEntry(bytes, pick(runSync(safetensorsIndex(bytes.length, shown), bytes), shown, key), shown);
}

/** The array names of an archive, from its index alone. */
export async function archiveKeys(source: ByteSource, kind: ArchiveKind, shown: string): Promise<string[]> {
  if (kind === "npz") return (await runAsync(zipIndex(source.size, shown), source)).map((m) => m.key);
  return (await runAsync(safetensorsIndex(source.size, shown), source)).map((t) => t.key);
}

/**
 * One array of an archive open for reads of whole rows by offset (streaming): a .npz member (a .npy file
 * inside the zip; a deflated one inflated in order, in bounded pieces) or a safetensors tensor.
 */
export async function openArchiveMember(source: ByteSource, kind: ArchiveKind, shown: string, key: string): Promise<OpenedTensor> {
  if (kind === "npz") {
    const m = pick(await runAsync(zipIndex(source.size, shown), source), shown, key);
    if (m.method !== 0 && m.method !== 8)
      throw new ArchiveError(
        `${shown}: member ${m.name}: compression method ${m.method}, expected stored (0) or deflate (8) as numpy writes`,
      );
    const what = `${shown}: member ${m.name}`;
    const read = crcChecked(
      m.method === 0 ? (view: Uint8Array, at: number) => source.read(view, m.dataStart + at) : inflater(source, m, what),
      m,
      what,
    );
    const inner: ByteSource = {
      size: m.size,
      read: (view, position) => read(view.subarray(0, Math.max(0, Math.min(view.length, m.size - position))), position),
    };
    const opened = await NPY_FORMAT.open(inner, what);
    // the CRC is checked once the reads reach the member's end: after the last row, the bytes after the
    // data (none as numpy writes; a header that lies about its length leaves some) are read to it
    const toEnd = () => read(new Uint8Array(0), m.size);
    const rowBytes = sizeOf(opened.dims.slice(1)) * DTYPES[opened.dtype].bytes;
    const rows = opened.dims[0] ?? 1;
    if (rows * rowBytes === 0) await toEnd();
    return {
      ...opened,
      async readRows(view: Uint8Array, from: number): Promise<void> {
        await opened.readRows(view, from);
        if (rowBytes > 0 && from * rowBytes + view.length >= rows * rowBytes) await toEnd();
      },
    };
  }
  const t = pick(await runAsync(safetensorsIndex(source.size, shown), source), shown, key);
  const dtype = readDtype(t, shown);
  const fileRow = sizeOf(t.dims.slice(1)) * ST_BYTES[t.fileDtype];
  return {
    dtype,
    dims: t.dims,
    async readRows(view: Uint8Array, from: number): Promise<void> {
      const rows = view.length / (sizeOf(t.dims.slice(1)) * DTYPES[dtype].bytes);
      const raw = READ[t.fileDtype] === dtype && DTYPES[dtype].bytes === ST_BYTES[t.fileDtype] ? view : new Uint8Array(rows * fileRow);
      const start = t.begin + from * fileRow;
      for (let done = 0; done < raw.length; ) {
        const n = await source.read(raw.subarray(done), start + done);
        if (n === 0) throw new ArchiveError(`${shown}: tensor ${t.key} ended early at row ${from}`);
        done += n;
      }
      if (raw !== view || t.fileDtype === "BOOL")
        convert(t.fileDtype, raw, view, `${shown}: tensor ${t.key}`, from * sizeOf(t.dims.slice(1)));
    },
  };
}
