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
