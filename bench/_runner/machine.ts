/**
 * The machine a run happened on: CPU model, cores, OS, Deno/V8 versions,
 * and Python's version when present.
 *
 * @module
 */

/** Where the numbers come from. */
export interface Machine {
  cpu: string;
  cores: number;
  os: string;
  memoryGiB?: number;
  deno: string;
  v8: string;
  typescript: string;
  python?: string;
}

async function output(command: string, args: string[]): Promise<string | undefined> {
  try {
    const { success, stdout, stderr } = await new Deno.Command(command, { args }).output();
    if (!success) return undefined;
    const text = new TextDecoder().decode(stdout).trim() || new TextDecoder().decode(stderr).trim();
    return text || undefined;
  } catch {
    return undefined;
  }
}

async function cpuModel(): Promise<string> {
  let info: string | undefined;
  try {
    info = await Deno.readTextFile("/proc/cpuinfo");
  } catch {
    // Not Linux, or Deno wants --allow-all for /proc when --allow-run is granted: ask cat.
    info = await output("cat", ["/proc/cpuinfo"]);
  }
  const model = info?.match(/^model name\s*:\s*(.+)$/m)?.[1];
  if (model) return model.trim();
  return (await output("sysctl", ["-n", "machdep.cpu.brand_string"])) ??
    (await output("wmic", ["cpu", "get", "name"]))?.split("\n").pop()?.trim() ??
    "unknown CPU";
}

/** Collects the machine description. */
export async function describeMachine(): Promise<Machine> {
  let memoryGiB: number | undefined;
  try {
    memoryGiB = Math.round(Deno.systemMemoryInfo().total / 2 ** 30);
  } catch { /* no --allow-sys */ }
  return {
    cpu: await cpuModel(),
    cores: navigator.hardwareConcurrency,
    os: `${Deno.build.os} ${Deno.build.arch} (${safeRelease()})`,
    memoryGiB,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    python: await output("python3", ["--version"]),
  };
}

function safeRelease(): string {
  try {
    return Deno.osRelease();
  } catch {
    return "?";
  }
}
