/** A CliIo that keeps what a command prints, for tests that run `roadtoll …` in-process. */
export function captureCliIo(root: string) {
  const out = { stdout: "", stderr: "" };
  const io = {
    stdout: (text: string) => {
      out.stdout += text;
    },
    stderr: (text: string) => {
      out.stderr += text;
    },
    env: {},
    root,
  };
  return { out, io };
}
