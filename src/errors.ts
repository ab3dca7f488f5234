/**
 * The errors that are the caller's input, not a bug in onnx-losses: a bad option, input, file, model or
 * provider. Each message names the thing, what was expected and what was received; the CLI reports any
 * UserError as one line on stderr and exits 2 (anything else is an internal error, exit 1).
 */
export class UserError extends Error {
  override name = "UserError";
}

/** An error in loss options, build options or loss names. */
export class OptionError extends UserError {
  override name = "OptionError";
}
