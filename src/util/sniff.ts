/**
 * What a file's first bytes say it is, for a refusal that names what was received instead of "other
 * bytes": the formats a user of this field saves tensors and models in by mistake for the one asked.
 */
const starts = (head: Uint8Array, bytes: readonly number[]) => bytes.every((b, i) => head[i] === b);

/** A description of the format `head` (a file's first bytes, 16 or more where it has them) starts, or undefined. */
export function knownFormat(head: Uint8Array): string | undefined {
  if (starts(head, [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59])) return "a .npy file";
  if (starts(head, [0x50, 0x4b, 0x03, 0x04]) || starts(head, [0x50, 0x4b, 0x05, 0x06]))
    return "a zip archive (a PyTorch .pt or .pth from torch.save, or a NumPy .npz)";
  if (head[0] === 0x80 && head[1] >= 2 && head[1] <= 5) return "a Python pickle (torch.save's legacy format, or pickle.dump)";
  if (starts(head, [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a])) return "an HDF5 file (a Keras .h5)";
  // safetensors: an 8-byte little-endian header length, then the JSON header
  if (head.length >= 9 && head[8] === 0x7b && head[6] === 0 && head[7] === 0) return "a safetensors file";
  return undefined;
}

/** What bytes that are no tensor file look like, where that can be told: knownFormat's, an ONNX model, text. */
export function looksLike(head: Uint8Array): string | undefined {
  const known = knownFormat(head);
  if (known) return `${known}; save each tensor with numpy.save or numpy.savez (a torch tensor: t.detach().cpu().numpy()), or safetensors`;
  // a ModelProto starts with ir_version (field 1, a varint: tag 0x08, then 3 to 12), then producer_name
  // (field 2, 0x12), producer_version (3, 0x1a), graph (7, 0x3a) or opset_import (8, 0x42)
  if (head[0] === 0x08 && head[1] >= 3 && head[1] <= 12 && [0x12, 0x1a, 0x3a, 0x42].includes(head[2]))
    return "an ONNX model (a model is evaluated with eval MODEL.onnx, not fed as an input)";
  const text = textStart(head);
  return text === undefined ? undefined : `${text}, not a binary tensor file`;
}

/** `text ("first bytes"...)` where the first 16 bytes are printable ASCII (tabs and line ends too), else undefined. */
export function textStart(head: Uint8Array): string | undefined {
  const text = head.subarray(0, 16);
  if (text.length > 0 && text.every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127)))
    return `text (${JSON.stringify(new TextDecoder().decode(text))}...)`;
  return undefined;
}
