/**
 * The errors that are the caller's input, not a bug in onnx-losses: a bad option, input, file, model or
 * provider. Each message names the thing, what was expected and what was received; the CLI reports any
 * UserError as one line on stderr and exits 2 (anything else is an internal error, exit 1).
 */
export class UserError extends Error {
  override name = "UserError";
}

/**
 * onnxruntime could not load a model on the CPU, or failed to run it on inputs that passed validation (a
 * model that is not valid ONNX, an op it lacks, a shape it cannot broadcast, memory it cannot get). The
 * message names the model and gives onnxruntime's first line.
 */
export class OnnxRuntimeError extends UserError {
  override name = "OnnxRuntimeError";
}

/**
 * A runtime package the call needs is not installed (onnxruntime-node or onnxruntime-web are optional
 * peer dependencies: building, exporting and inspecting graphs needs neither). The message names the
 * package and the command that installs it.
 */
export class MissingRuntimeError extends UserError {
  override name = "MissingRuntimeError";
}

/**
 * The words of an error about named options, given the caller's names for them: the API's keys
 * (`targetInput`), or the command line's flags (`--target-input`). An error that has one says its
 * message with the API's keys; the CLI words it again with its flags, never by rewriting the text.
 */
export type Wording = (name: (key: string) => string) => string;

/** The API's names: the keys themselves. */
export const API_NAMES = (key: string): string => key;

/**
 * What a refused options object got wrong, in parts: which object (`subject`, "createEvaluator
 * options"), which key (`path`, empty for the object itself), what it allows and what it received.
 */
export interface OptionProblem {
  readonly subject: string;
  readonly path: readonly string[];
  readonly expected: string;
  readonly received: string;
}

/**
 * A UserError whose message may name options: then `wording` says it again with other names for them
 * (the CLI's flags), and a refusal by an options schema carries its parts in `problem`.
 */
export class WordedError extends UserError {
  override name = "WordedError";
  constructor(
    message: string,
    /** For a message that names options: the same message with other names for them. */
    readonly wording?: Wording,
    /** For a refusal by an options schema (util/schema.ts): its parts. */
    readonly problem?: OptionProblem,
  ) {
    super(message);
  }

  /** An error of this class whose message names options through `wording` (the API's keys here). */
  static worded<E extends WordedError>(
    this: new (
      message: string,
      wording?: Wording,
      problem?: OptionProblem,
    ) => E,
    wording: Wording,
    problem?: OptionProblem,
  ): E {
    return new this(wording(API_NAMES), wording, problem);
  }
}

/** An error in loss options, build options, evaluator, attach, step or stream options, or loss names. */
export class OptionError extends WordedError {
  override name = "OptionError";
}
