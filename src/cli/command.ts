/**
 * What a command file provides: its definition (arguments and flags, their types inferred by
 * @commander-js/extra-typings) and its action, as one function program.ts registers. A new command is
 * its file plus its line in COMMANDS (commands/index.ts).
 */
import type { Command } from "@commander-js/extra-typings";
import { UsageError } from "./errors.js";
import type { CliIo } from "./io.js";

/** What an action may use: the process's I/O, and the exit status for a command that sets its own (demo). */
export interface CliContext {
  io: CliIo;
  setCode(code: number): void;
}

/** A command's definition with its action attached. */
// biome-ignore lint/suspicious/noExplicitAny: a command of any arguments and flags
export type CommandDefinition = (ctx: CliContext) => Command<any, any, any>;

/** The next release, which drops the old spellings of renamed flags. */
export const NEXT_RELEASE = "0.2.0";

/**
 * A flag renamed, its old spelling kept working for one release: the value given under either name
 * (both given: refused), and a note on stderr when the old one was used. `command` names the command.
 */
export function renamedFlag<T>(
  ctx: CliContext,
  command: string,
  names: { old: string; now: string },
  old: T | undefined,
  now: T | undefined,
): T | undefined {
  if (old === undefined) return now;
  if (now !== undefined) throw new UsageError(`${command}: ${names.old} is the old spelling of ${names.now}; give ${names.now} only`);
  ctx.io.err(`note: ${command} ${names.old} is now ${names.now}; ${names.old} stops working in ${NEXT_RELEASE}`);
  return old;
}
