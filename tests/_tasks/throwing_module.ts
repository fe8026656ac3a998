/** A task module whose top level throws (tests/workers_test.ts). */
import "../../workers/worker_process.ts";

/** Never reached. */
export function never(): void {}

throw new Error("top-level failure");
