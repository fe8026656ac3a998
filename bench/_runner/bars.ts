/**
 * The bars the issues set, checked against the rows of one run. Every bar is
 * "subject is at least `limit` times as fast as reference" on one question
 * and workload (for times per op, faster means less time). A bar whose rows
 * are missing (a suite that has not landed yet) is reported as not measured.
 *
 * @module
 */

import { round, type Row } from "./stats.ts";

/** One bar from an issue. */
interface Bar {
  label: string;
  question: RegExp;
  workload: string;
  subject: RegExp;
  reference: RegExp;
  limit: number;
  /** An extra of the subject row holding paired speed ratios, preferred when present. */
  paired?: string;
}

const BARS: Bar[] = [
  {
    label: "issue 2: uncontended Mutex lock+unlock costs ≤ 2× a bare CAS pair",
    question: /^locks: uncontended/,
    workload: "-",
    subject: /^Mutex$/,
    reference: /compareExchange pair/,
    limit: 0.5,
    paired: "pairedSpeed",
  },
  {
    label: "issue 2: contended Mutex reaches ≥ 70% of the bare futex lock",
    question: /^locks: 2-worker/,
    workload: "-",
    subject: /^Mutex$/,
    reference: /^bare futex lock/,
    limit: 0.7,
    paired: "pairedSpeed",
  },
  ...["int4", "b64"].flatMap((workload) => [
    {
      label: `issue 3: RingBuffer ≥ 10× postMessage (${workload})`,
      question: /^threads: throughput/,
      workload,
      subject: /^RingBuffer/,
      reference: /^postMessage/,
      limit: 10,
    },
    {
      label: `issue 3: Queue ≥ 5× postMessage (${workload})`,
      question: /^threads: throughput/,
      workload,
      subject: /^Queue/,
      reference: /^postMessage/,
      limit: 5,
    },
  ]),
  {
    label: "issue 3: Queue ≥ 2× postMessage (json)",
    question: /^threads: throughput/,
    workload: "json",
    subject: /^Queue/,
    reference: /^postMessage/,
    limit: 2,
  },
  {
    label: "issue 3: Queue round trip ≤ 1/20 of postMessage's (int4)",
    question: /^threads: round trip/,
    workload: "int4",
    subject: /^Queue/,
    reference: /^postMessage/,
    limit: 20,
  },
  ...["int32 batch=1", "int32 batch=64"].map((workload) => ({
    label: `issue 3: RingBuffer ≥ ringbuf.js (${workload})`,
    question: /^threads: ringbuf\.js workload/,
    workload,
    subject: /^RingBuffer/,
    reference: /^ringbuf\.js/,
    limit: 1,
    paired: "pairedSpeed",
  })),
  {
    label: "issue 4: Pool ≥ 3× piscina on tiny tasks",
    question: /^pool: task/,
    workload: "tiny",
    subject: /^Pool/,
    reference: /^piscina/,
    limit: 3,
  },
  ...["int4", "b64"].flatMap((workload) => [
    {
      label: `issue 5: file-backed Queue ≥ Python mp.Queue (${workload})`,
      question: /^processes: throughput/,
      workload,
      subject: /^Queue \(file\)$/,
      reference: /^Python mp\.Queue$/,
      limit: 1,
    },
    {
      label: `issue 5: file-backed Queue with a 1 ms lease ≥ Python mp.Queue (${workload})`,
      question: /^processes: throughput/,
      workload,
      subject: /^Queue \(file, lease/,
      reference: /^Python mp\.Queue$/,
      limit: 1,
    },
    {
      label: `issue 5: memory-mapped Queue ≥ 10× Python mp.Queue (${workload})`,
      question: /^processes: throughput/,
      workload,
      subject: /^Queue \(mmap\)$/,
      reference: /^Python mp\.Queue$/,
      limit: 10,
    },
    {
      label: `issue 5: memory-mapped Queue faster than a Unix domain socket (${workload})`,
      question: /^processes: throughput/,
      workload,
      subject: /^Queue \(mmap\)$/,
      reference: /^Unix domain socket/,
      limit: 1,
    },
  ]),
];

/** The verdict on one bar. */
export interface BarResult {
  label: string;
  /** Subject speed / reference speed, when both rows were measured. */
  measured?: number;
  limit: number;
  pass?: boolean;
  detail: string;
}

/** Checks every bar against the rows. */
export function checkBars(rows: Row[]): BarResult[] {
  return BARS.map((bar) => {
    const candidates = rows.filter((row) =>
      bar.question.test(row.question) && row.workload === bar.workload && !row.error
    );
    const subject = candidates.find((row) => bar.subject.test(row.name));
    const reference = candidates.find((row) => bar.reference.test(row.name));
    if (!subject || !reference) {
      const missing = !subject ? bar.subject.source : bar.reference.source;
      return { label: bar.label, limit: bar.limit, detail: `not measured (no row /${missing}/)` };
    }
    const pairedRatio = bar.paired ? subject.extras[bar.paired]?.median : undefined;
    const measured = pairedRatio ??
      (subject.metric === "rate"
        ? subject.median / reference.median
        : reference.median / subject.median);
    const pass = measured >= bar.limit;
    const how = bar.limit < 1
      ? `${subject.name} at ${round(measured * 100)}% of ${reference.name}'s speed`
      : `${subject.name} ${round(measured)}× ${reference.name}`;
    const basis = pairedRatio === undefined ? "" : " (median of paired runs)";
    return {
      label: bar.label,
      measured,
      limit: bar.limit,
      pass,
      detail: `${pass ? "PASS" : "MISS"}: ${how}${basis} (needs ${
        bar.limit < 1 ? `${round(bar.limit * 100)}%` : `${bar.limit}×`
      })`,
    };
  });
}
