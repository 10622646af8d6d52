// Child processes of the local stack die with it, even when a run ends abruptly.
import type { ChildProcess } from "node:child_process";

const children = new Set<ChildProcess>();

export function trackChild(child: ChildProcess): void {
  children.add(child);
  child.once("exit", () => children.delete(child));
}

process.once("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});
