/** Every command, in the order the help lists them: a new command is its file and its line here. */
import type { CommandDefinition } from "../command.js";
import { ATTACH } from "./attach.js";
import { DEMO } from "./demo.js";
import { EVAL } from "./eval.js";
import { EXPORT } from "./export.js";
import { INSPECT } from "./inspect.js";
import { LIST } from "./list.js";

export const COMMANDS: readonly CommandDefinition[] = [LIST, EXPORT, ATTACH, EVAL, INSPECT, DEMO];
