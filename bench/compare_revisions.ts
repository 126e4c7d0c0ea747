/**
 * Runs the benchmarks of an older revision and of this tree side by side, in
 * one run, and prints a markdown table of both with their ratio: the check
 * behind "every benchmark within 5% of before".
 *
 *   deno run -A bench/compare_revisions.ts --base <rev> [--rounds 3] [--filter <substring>] [--offline]
 *
 * - `--base <rev>`: the old side, any revision git knows (`main`, `HEAD~3`, a
 *   hash). It is checked out, detached, in a temporary `git worktree` outside
 *   the repository, which is removed at the end, on errors and on Ctrl-C too.
 *   The new side is this tree as it is, uncommitted changes included.
 * - `--rounds N` (default 3): runs of each bench file per side. The runs
 *   alternate, and which side goes first alternates too (old, new; new, old;
 *   ...), so that the machine's load, and whatever the run before leaves
 *   behind, hit both sides alike.
 * - `--filter <substring>`: only the bench files whose name contains it
 *   (`--filter process_bench`).
 * - `--offline`: runs every bench with `--config offline/deno.json`, for a
 *   machine without JSR. The old tree's offline/deno.json links @std from
 *   `../../shared/std`, which does not exist beside a temporary directory, so
 *   its links are rewritten to the denoland/std tree that this tree's
 *   offline/deno.json names (or `TROUPE_STD`, as in .ci/run).
 *
 * Both trees are built first (`deno task build`), then each bench file of
 * this tree's bench/ runs in both trees (a file the old tree lacks runs on the
 * new side only). What a run measures depends on the file:
 *
 * - a file that declares `Deno.bench` runs as `deno bench -A --json`; a
 *   benchmark's number is its p50 when the JSON has one, else its average
 *   (Deno 2.9's JSON has `avg`, `min`, `max`, `p75`, `p99`... but no p50);
 * - bench/pool_compare.ts runs with `--no-peers` (piscina, tinypool and Python
 *   do not change with Troupe); its report ends with every round's numbers
 *   per metric ("- troupe.map: first a, b; median c, d"), which give two
 *   numbers per metric: the median over its rounds of the first call and of
 *   the median call, the figures its own tables show;
 * - every other script prints markdown tables of medians: each row whose
 *   second cell is a number with a unit (`12.3 µs`, `1.60M msgs/s`,
 *   `49 ms, 8.1 M/s`: the first number counts) is a benchmark.
 *
 * bench/startup_profile.ts is left out: it reads V8's compile log of fresh
 * processes, and compares two bundles itself (`startup_profile.ts 8 old.js
 * new.js`). Rows of raw workers and of Python stay in: they do not run
 * Troupe's code, so their ratios show how much the machine alone moved the
 * numbers.
 *
 * Progress goes to stderr, a line per run with its time and the load; the
 * report goes to stdout once every run is done.
 *
 * Each side's figure for a benchmark is the median over the rounds of each
 * run's own figure. The verdict reads the ratio the slow way round for the
 * unit: for a time, new/old above 1.05 is ">5% slower"; for a rate or a
 * speedup, new/old below 1/1.05. The exit code is 0 whatever the numbers:
 * the tool reports, it does not gate.
 *
 * @module
 */

// ---- settings ------------------------------------------------------------------------------

const USAGE = "usage: deno run -A bench/compare_revisions.ts --base <rev> [--rounds 3] " +
  "[--filter <substring>] [--offline]";

/** A benchmark more than this factor slower on the new side is flagged. */
const SLOWER_LIMIT = 1.05;

/** No single bench run may take longer than this (a hung bench must not hang the comparison). */
const RUN_TIMEOUT_MS = 30 * 60 * 1000;

/** The most rounds accepted, so that a typo cannot start a run of days. */
const MAX_ROUNDS = 50;

/** Bench files that are not compared (see the module's comment). */
const SKIPPED_FILES = new Set(["compare_revisions.ts", "startup_profile.ts"]);

/** Arguments given to a bench script, by file name; the others run with none (their defaults). */
const SCRIPT_ARGS: Record<string, string[]> = {
  "pool_compare.ts": ["--no-peers"],
};

interface Options {
  base: string;
  rounds: number;
  filter: string | undefined;
  offline: boolean;
}

/** Reads the command line; throws a message with the usage when it is wrong. */
function parseOptions(args: string[]): Options {
  const options: Options = { base: "", rounds: 3, filter: undefined, offline: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    // "--name value" and "--name=value" both work.
    const [name, inline] = arg.startsWith("--") && arg.includes("=")
      ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
      : [arg, undefined];
    const value = (): string => {
      const v = inline ?? args[++i];
      if (v === undefined || v === "") throw new Error(`${name} needs a value\n${USAGE}`);
      return v;
    };
    if (name === "--base") options.base = value();
    else if (name === "--rounds") {
      const text = value();
      options.rounds = Number(text);
      if (!Number.isInteger(options.rounds) || options.rounds < 1 || options.rounds > MAX_ROUNDS) {
        throw new Error(`--rounds must be an integer from 1 to ${MAX_ROUNDS}, got ${text}`);
      }
    } else if (name === "--filter") options.filter = value();
    else if (name === "--offline") options.offline = true;
    else if (name === "--help" || name === "-h") throw new Error(USAGE);
    else throw new Error(`unknown argument ${arg}\n${USAGE}`);
  }
  if (options.base === "") throw new Error(`--base is required\n${USAGE}`);
  return options;
}

// ---- running commands ----------------------------------------------------------------------

/** What a finished command left. */
interface Output {
  success: boolean;
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Runs `command` with `args` in `cwd`, capturing its output; never throws for a failed command. */
async function run(
  command: string,
  args: string[],
  cwd: string,
  signal?: AbortSignal,
): Promise<Output> {
  const t0 = performance.now();
  const out = await new Deno.Command(command, {
    args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal,
  }).output();
  const decoder = new TextDecoder();
  return {
    success: out.success,
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
    seconds: (performance.now() - t0) / 1000,
  };
}

/** Runs git in `cwd` and returns its trimmed stdout; throws with its stderr when it fails. */
async function git(args: string[], cwd: string): Promise<string> {
  const out = await run("git", args, cwd);
  if (!out.success) throw new Error(`git ${args.join(" ")} failed:\n${out.stderr.trim()}`);
  return out.stdout.trim();
}

/** The last lines of a command's stderr, to show why it failed. */
function tail(text: string, lines = 15): string {
  return text.trim().split("\n").slice(-lines).join("\n");
}

// ---- the two trees -------------------------------------------------------------------------

/** One side of the comparison: a checkout to build and run the benches in. */
interface Tree {
  side: "old" | "new";
  root: string;
  /** The revision, as shown in the report. */
  label: string;
}

/** "5dfff72 (2026-12-02) docs: pool figures…": a commit as the report shows it. */
async function describeCommit(rev: string, cwd: string): Promise<string> {
  const line = await git(["log", "-1", "--format=%h (%cs) %s", rev], cwd);
  return line.length > 90 ? `${line.slice(0, 89)}…` : line;
}

/** Checks out `commit` detached in a new directory under `tmp`; returns its path. */
async function addWorktree(repo: string, commit: string, tmp: string): Promise<string> {
  const dir = `${tmp}/base`;
  await git(["worktree", "add", "--detach", "--quiet", dir, commit], repo);
  return dir;
}

/**
 * Removes the temporary worktree `dir` (when it was made) and the directory
 * `tmp` that holds it; reports problems, never throws.
 */
async function removeWorktree(repo: string, dir: string | undefined, tmp: string): Promise<void> {
  if (dir !== undefined) {
    const out = await run("git", ["worktree", "remove", "--force", dir], repo);
    if (!out.success) console.error(`git worktree remove ${dir}: ${out.stderr.trim()}`);
  }
  try {
    await Deno.remove(tmp, { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) console.error(`cannot remove ${tmp}: ${error}`);
  }
  // Forgets a worktree whose directory is gone (`add` or `remove` failed halfway).
  await run("git", ["worktree", "prune"], repo);
}

interface OfflineConfig {
  links?: string[];
  [key: string]: unknown;
}

/**
 * The denoland/std tree the offline config needs: `TROUPE_STD` when set, else
 * the directory that this tree's offline/deno.json links @std/assert from.
 */
async function stdRoot(root: string): Promise<string> {
  let candidate = Deno.env.get("TROUPE_STD");
  if (!candidate) {
    const file = `${root}/offline/deno.json`;
    const config = JSON.parse(await Deno.readTextFile(file)) as OfflineConfig;
    const assert = (config.links ?? []).find((link) => /(^|\/)std\/assert\/?$/.test(link));
    if (!assert) throw new Error(`${file} links no std/assert: set TROUPE_STD`);
    // The links are relative to the config file's directory.
    const url = new URL(assert.replace(/\/?$/, "/../"), `file://${root}/offline/`);
    candidate = decodeURIComponent(url.pathname);
  }
  try {
    await Deno.stat(`${candidate}/assert/deno.json`);
  } catch {
    throw new Error(`denoland/std not found at ${candidate}: set TROUPE_STD to its tree`);
  }
  return await Deno.realPath(candidate);
}

/** Points the std links of `root`'s offline/deno.json at `std`, an absolute path. */
async function relinkOfflineStd(root: string, std: string): Promise<void> {
  const file = `${root}/offline/deno.json`;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch {
    throw new Error(`the base revision has no offline/deno.json: run without --offline`);
  }
  const config = JSON.parse(text) as OfflineConfig;
  // "../../shared/std/assert" becomes "<std>/assert"; other links stay as they are.
  config.links = (config.links ?? []).map((link) => {
    const match = /(?:^|\/)std\/([^/]+)\/?$/.exec(link);
    return match ? `${std}/${match[1]}` : link;
  });
  await Deno.writeTextFile(file, JSON.stringify(config, null, 2) + "\n");
}

/** Builds dist/troupe.js in `tree`; throws when the build fails. */
async function build(tree: Tree): Promise<void> {
  console.error(`building the ${tree.side} tree (${tree.root})`);
  const out = await run(Deno.execPath(), ["task", "build"], tree.root);
  if (!out.success) {
    throw new Error(`deno task build failed in the ${tree.side} tree:\n${tail(out.stderr)}`);
  }
}

// ---- the bench files -----------------------------------------------------------------------

/** How a bench file runs and reports: see the module's comment. */
type Kind = "deno-bench" | "pool" | "tables";

/** How `file` (a name in bench/) with this source runs, or undefined when it is not compared. */
function kindOf(file: string, source: string): Kind | undefined {
  if (!file.endsWith(".ts") || SKIPPED_FILES.has(file)) return undefined;
  if (/\bDeno\.bench\s*\(/.test(source)) return "deno-bench";
  if (file === "pool_compare.ts") return "pool";
  return "tables";
}

/** The bench files of `root`'s bench/ (not its subdirectories), sorted, with how each runs. */
async function benchFiles(root: string): Promise<Map<string, Kind>> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(`${root}/bench`)) {
    if (entry.isFile) names.push(entry.name);
  }
  names.sort();
  const files = new Map<string, Kind>();
  for (const name of names) {
    const kind = kindOf(name, await Deno.readTextFile(`${root}/bench/${name}`));
    if (kind) files.set(name, kind);
  }
  return files;
}

/** The command line (after `deno`) that runs `file` of this kind. */
function benchArgs(file: string, kind: Kind, offline: boolean): string[] {
  const config = offline ? ["--config", "offline/deno.json"] : [];
  if (kind === "deno-bench") return ["bench", "-A", "--json", ...config, `bench/${file}`];
  return ["run", "-A", ...config, `bench/${file}`, ...(SCRIPT_ARGS[file] ?? [])];
}

// ---- reading what a run printed ------------------------------------------------------------
// The readers of the scripts' output are exported for tests.

/**
 * What a number measures, which says which way is better: a time ("s",
 * lower is better), a rate ("/s") or a speedup ("x"), both higher is better.
 */
export type Unit = "s" | "/s" | "x";

/** One benchmark's number from one run, in seconds, per second, or as a factor. */
export interface Measurement {
  name: string;
  value: number;
  unit: Unit;
}

/** The JSON of `deno bench --json`, as far as it is read here. */
interface DenoBenchReport {
  benches: {
    name: string;
    group?: string | null;
    results: { ok?: { avg: number; p50?: number }; failed?: unknown }[];
  }[];
}

/** The benchmarks of a `deno bench --json` run: each one's p50, else its average (in ns). */
function parseDenoBench(stdout: string): Measurement[] {
  const report = JSON.parse(stdout) as DenoBenchReport;
  const measurements: Measurement[] = [];
  for (const bench of report.benches) {
    const ok = bench.results[0]?.ok;
    if (!ok) continue; // a failed benchmark: it has no number
    measurements.push({ name: bench.name, value: (ok.p50 ?? ok.avg) / 1e9, unit: "s" });
  }
  return measurements;
}

const TIME_UNITS: Record<string, number> = { ns: 1e-9, "µs": 1e-6, us: 1e-6, ms: 1e-3, s: 1 };
const RATE_PREFIXES: Record<string, number> = { "": 1, k: 1e3, M: 1e6, G: 1e9 };

/**
 * The quantity a table cell starts with: "12.3 µs", "1,234k msgs/s",
 * "1.60M msgs/s", "2.1 M calls/s", "49 ms, 8.1 M/s" (the first one), "1.85x".
 * Undefined for a cell that starts with no number and unit ("—", "not in this build").
 */
export function parseQuantity(cell: string): { value: number; unit: Unit } | undefined {
  const match = /^(\d[\d,]*(?:\.\d+)?)\s*(.*)$/.exec(cell.trim());
  if (!match) return undefined;
  const number = Number(match[1].replaceAll(",", ""));
  const rest = match[2];
  // A time unit stands alone: "ms" in "49 ms, ..." but not in "msgs/s".
  const time = /^(ns|µs|us|ms|s)(?![\w/])/.exec(rest);
  if (time) return { value: number * TIME_UNITS[time[1]], unit: "s" };
  // A rate: an optional k/M/G, then a word or none, then "/s": "k msgs/s", "M/s", "M calls/s".
  const rate = /^([kMG]?)\s*[A-Za-z]*\/s(?!\w)/.exec(rest);
  if (rate) return { value: number * RATE_PREFIXES[rate[1]], unit: "/s" };
  if (/^x(?!\w)/.test(rest)) return { value: number, unit: "x" };
  return undefined;
}

/** The cells of a markdown table row, trimmed: "| a | b |" gives ["a", "b"]. */
function cellsOf(row: string): string[] {
  return row.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((cell) => cell.trim());
}

/** Whether a line is a markdown table's header separator, "| --- | :---: |". */
function isSeparator(line: string): boolean {
  return /^\|(\s*:?-+:?\s*\|)+$/.test(line.trim());
}

/**
 * The benchmarks of a script that prints markdown tables: every body row
 * whose second cell starts with a quantity, named by its first cell.
 */
export function parseTables(stdout: string): Measurement[] {
  const lines = stdout.split("\n");
  const measurements: Measurement[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line.startsWith("|") || isSeparator(line)) continue;
    // A header is the row just above a separator.
    if (i + 1 < lines.length && isSeparator(lines[i + 1])) continue;
    const cells = cellsOf(line);
    const quantity = cells.length >= 2 ? parseQuantity(cells[1]) : undefined;
    if (quantity) measurements.push({ name: cells[0], ...quantity });
  }
  return measurements;
}

/**
 * The benchmarks of a bench/pool_compare.ts run, from the lines that end its
 * report, one per metric with its numbers of every round:
 * "- troupe.map: first 2850000, 2790000; median 2900000, 2880000". Each metric
 * gives two benchmarks, its first call and its median call, each the median
 * over the rounds. Round trips are in µs, fib speedups a factor, the rest
 * tasks per second.
 */
export function parsePoolDetails(stdout: string): Measurement[] {
  const measurements: Measurement[] = [];
  for (const line of stdout.split("\n")) {
    const match = /^- ([\w.]+): first ([^;]+); median (.+)$/.exec(line.trim());
    if (!match) continue;
    const [, metric, firsts, medians] = match;
    const unit: Unit = metric.endsWith(".roundTrip") ? "s" : metric.endsWith(".fib") ? "x" : "/s";
    const scale = unit === "s" ? 1e-6 : 1;
    const numbers = (list: string) =>
      list.split(",").filter((x) => x.trim() !== "").map((x) => Number(x) * scale);
    measurements.push(
      { name: `${metric}, first call`, value: median(numbers(firsts)), unit },
      { name: `${metric}, median call`, value: median(numbers(medians)), unit },
    );
  }
  return measurements;
}

/** The benchmarks of one run of a bench file of `kind`; throws when its output cannot be read. */
function parseRun(kind: Kind, stdout: string): Measurement[] {
  const measurements = kind === "deno-bench"
    ? parseDenoBench(stdout)
    : kind === "pool"
    ? parsePoolDetails(stdout)
    : parseTables(stdout);
  if (measurements.length === 0) throw new Error("its output holds no benchmark this tool reads");
  // Two rows of one name (two tables of one script) stay apart: "name (2)".
  const seen = new Map<string, number>();
  return measurements.map((m) => {
    const count = (seen.get(m.name) ?? 0) + 1;
    seen.set(m.name, count);
    return count === 1 ? m : { ...m, name: `${m.name} (${count})` };
  });
}

// ---- the comparison ------------------------------------------------------------------------

/** A benchmark's numbers, one per run that measured it, for each side. */
interface Row {
  file: string;
  name: string;
  unit: Unit;
  old: number[];
  new: number[];
}

/**
 * Adds one run's measurements of `file` to their rows (keyed by file and
 * name, in the order first seen); throws when a benchmark changed its unit.
 */
function record(
  rows: Map<string, Row>,
  file: string,
  side: Tree["side"],
  measurements: Measurement[],
): void {
  for (const m of measurements) {
    const key = `${file}\0${m.name}`;
    let row = rows.get(key);
    if (!row) {
      row = { file, name: m.name, unit: m.unit, old: [], new: [] };
      rows.set(key, row);
    }
    if (row.unit !== m.unit) throw new Error(`${m.name} changed its unit, ${row.unit} → ${m.unit}`);
    row[side].push(m.value);
  }
}

/** The median of `xs` (the mean of the middle two for an even count); NaN for none. */
function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** `value` for the table: "13.2 µs", "2.85M/s", "1.85x"; "—" when not measured. */
function formatValue(value: number, unit: Unit): string {
  if (Number.isNaN(value)) return "—";
  if (unit === "x") return `${value.toFixed(2)}x`;
  if (unit === "s") {
    if (value < 1e-6) return `${(value * 1e9).toPrecision(3)} ns`;
    if (value < 1e-3) return `${(value * 1e6).toPrecision(3)} µs`;
    if (value < 1) return `${(value * 1e3).toPrecision(3)} ms`;
    return `${value.toPrecision(3)} s`;
  }
  if (value >= 1e6) return `${(value / 1e6).toPrecision(3)}M/s`;
  if (value >= 1e3) return `${(value / 1e3).toPrecision(3)}k/s`;
  return `${value.toPrecision(3)}/s`;
}

/** How much slower the new side is: above 1 slower, below 1 faster, whatever the unit. */
function slowdown(oldValue: number, newValue: number, unit: Unit): number {
  const ratio = newValue / oldValue;
  return unit === "s" ? ratio : 1 / ratio;
}

function verdict(oldValue: number, newValue: number, unit: Unit): string {
  if (Number.isNaN(oldValue) || Number.isNaN(newValue)) return "not compared";
  const factor = slowdown(oldValue, newValue, unit);
  if (factor > SLOWER_LIMIT) return "**>5% slower**";
  if (factor < 1 / SLOWER_LIMIT) return ">5% faster";
  return "within 5%";
}

/** The load averages (1, 5, 15 min) from /proc/loadavg, "1.59 3.88 3.82". */
async function loadAverage(): Promise<string> {
  try {
    return (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
  } catch {
    return "unknown (no /proc/loadavg)";
  }
}

/** The markdown report: the settings and the machine, the table, the problems, every run's numbers. */
function report(
  options: Options,
  trees: Tree[],
  rows: Row[],
  problems: string[],
  facts: { date: string; loadStart: string; loadEnd: string; seconds: number },
): string {
  const lines: string[] = [];
  lines.push(`# Benchmarks, old against new`, "");
  lines.push(`- old: ${trees[0].label}`);
  lines.push(`- new: ${trees[1].label}`);
  lines.push(`- date: ${facts.date}; took ${facts.seconds.toFixed(0)} s`);
  lines.push(
    `- Deno ${Deno.version.deno} (V8 ${Deno.version.v8}), ${navigator.hardwareConcurrency} cores`,
  );
  lines.push(
    `- load average (1, 5, 15 min): ${facts.loadStart} at the start, ${facts.loadEnd} at the end`,
  );
  lines.push(
    `- ${options.rounds} round(s) per bench file, old and new alternating, each first in every other round` +
      (options.filter === undefined ? "" : `; files matching "${options.filter}"`) +
      (options.offline ? "; --config offline/deno.json" : ""),
  );
  lines.push(
    "- each side: the median over the rounds of each run's figure (a Deno.bench's p50, " +
      "else its average; a script's own median)",
    "",
  );
  lines.push("| benchmark | old | new | new/old | verdict |", "| --- | --- | --- | --- | --- |");
  let slower = 0;
  for (const row of rows) {
    const oldValue = median(row.old), newValue = median(row.new);
    const ratio = newValue / oldValue;
    const result = verdict(oldValue, newValue, row.unit);
    if (result.includes("slower")) slower++;
    const name = `${row.file.replace(/\.ts$/, "")}: ${row.name}`.replaceAll("|", "\\|");
    lines.push(
      `| ${name} | ${formatValue(oldValue, row.unit)} | ${formatValue(newValue, row.unit)} | ${
        Number.isFinite(ratio) ? ratio.toFixed(3) : "—"
      } | ${result} |`,
    );
  }
  lines.push("");
  lines.push(
    `${rows.length} benchmarks; ${slower} more than 5% slower. Times: lower is better; ` +
      "rates (/s) and speedups (x): higher is better.",
  );
  if (problems.length > 0) {
    lines.push("", "Problems:", "", ...problems.map((p) => `- ${p.replaceAll("\n", "\n  ")}`));
  }
  lines.push("", "Every run's figure, old then new, in the order they ran:", "");
  for (const row of rows) {
    const list = (xs: number[]) => xs.map((x) => formatValue(x, row.unit)).join(", ") || "—";
    lines.push(`- ${row.file}: ${row.name}: old ${list(row.old)}; new ${list(row.new)}`);
  }
  return lines.join("\n");
}

// ---- main ----------------------------------------------------------------------------------

async function main(): Promise<void> {
  let options: Options;
  try {
    options = parseOptions(Deno.args);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    return;
  }
  const started = performance.now();
  const date = new Date().toISOString().slice(0, 16) + "Z";
  const loadStart = await loadAverage();

  const here = decodeURIComponent(new URL("..", import.meta.url).pathname);
  const repo = await git(["rev-parse", "--show-toplevel"], here);
  let commit: string;
  try {
    commit = await git(["rev-parse", "--verify", "--quiet", `${options.base}^{commit}`], repo);
  } catch {
    throw new Error(`--base ${options.base}: not a revision of ${repo}`);
  }
  const files = [...(await benchFiles(repo)).entries()]
    .filter(([file]) => options.filter === undefined || file.includes(options.filter));
  if (files.length === 0) {
    throw new Error(`no bench file in ${repo}/bench matches ${options.filter}`);
  }
  const dirty = (await git(["status", "--porcelain"], repo)) !== "";
  const current: Tree = {
    side: "new",
    root: repo,
    label: `${await describeCommit("HEAD", repo)}${
      dirty ? ", with uncommitted changes" : ""
    } (${repo})`,
  };

  // Ctrl-C stops the run in progress and skips the rest; the report and the clean-up still happen.
  const stop = new AbortController();
  const onInterrupt = () => {
    console.error("interrupted: stopping, then removing the temporary worktree");
    stop.abort();
  };
  Deno.addSignalListener("SIGINT", onInterrupt);

  const tmp = await Deno.makeTempDir({ prefix: "troupe-compare-" });
  let worktree: string | undefined;
  try {
    worktree = await addWorktree(repo, commit, tmp);
    const base: Tree = {
      side: "old",
      root: worktree,
      label: `${await describeCommit(commit, repo)} (--base ${options.base})`,
    };
    if (options.offline) await relinkOfflineStd(base.root, await stdRoot(current.root));
    await build(base);
    await build(current);

    const problems: string[] = [];
    const rows = new Map<string, Row>();
    const baseFiles = await benchFiles(base.root);

    for (const [file, kind] of files) {
      for (let round = 1; round <= options.rounds && !stop.signal.aborted; round++) {
        // The side that runs first in a round measured faster on a busy machine: take turns.
        for (const tree of round % 2 === 1 ? [base, current] : [current, base]) {
          if (stop.signal.aborted) break;
          // Each tree runs its own copy of the file, read the way that copy is written.
          const treeKind = tree === base ? baseFiles.get(file) : kind;
          if (treeKind === undefined) {
            if (round === 1) {
              problems.push(`${file}: not in the old tree, measured on the new side only`);
            }
            continue;
          }
          const what = `${file}, ${tree.side}, round ${round}/${options.rounds}`;
          const timeout = AbortSignal.timeout(RUN_TIMEOUT_MS);
          const out = await run(
            Deno.execPath(),
            benchArgs(file, treeKind, options.offline),
            tree.root,
            AbortSignal.any([stop.signal, timeout]),
          );
          console.error(`${what}: ${out.seconds.toFixed(1)} s, load ${await loadAverage()}`);
          if (stop.signal.aborted) break; // stopped by Ctrl-C: this run counts for nothing
          if (timeout.aborted) {
            problems.push(`${what}: stopped after ${RUN_TIMEOUT_MS / 60_000} min`);
            continue;
          }
          if (!out.success) {
            problems.push(`${what}: exited with ${out.code}\n${tail(out.stderr)}`);
            continue;
          }
          try {
            record(rows, file, tree.side, parseRun(treeKind, out.stdout));
          } catch (error) {
            problems.push(`${what}: ${error instanceof Error ? error.message : error}`);
          }
        }
      }
    }
    if (stop.signal.aborted) problems.push("interrupted: the figures cover the runs done before");

    console.log(report(options, [base, current], [...rows.values()], problems, {
      date,
      loadStart,
      loadEnd: await loadAverage(),
      seconds: (performance.now() - started) / 1000,
    }));
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
    await removeWorktree(repo, worktree, tmp);
  }
}

if (import.meta.main) {
  try {
    await main();
  } catch (error) {
    // Reported, not failed: see the module's comment.
    console.error(error instanceof Error ? error.message : error);
  }
}
