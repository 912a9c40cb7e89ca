import type { ChainDocument, TaskDescriptor } from '../../src/chain/index.js';

/** `n` independent `null` tasks in one task list: no edges, all ready at submission. */
export function flatChain(n: number, jobName = 'bench-flat'): ChainDocument {
  return { job_name: jobName, task_list: Array.from({ length: n }, () => ({ task: 'null' })) };
}

/**
 * `parents` groups of (child `a<i>`, child `b<i>`, parent `p<i>`) in one task list; each parent
 * waits for its two children through `requires_metadata_from` (a `null` task writes no files,
 * so file edges cannot be used). The shape of BullMQ's FlowProducer parent + 2 children.
 */
export function parentChildrenChain(parents: number, jobName = 'bench-dag'): ChainDocument {
  const list: TaskDescriptor[] = [];
  for (let i = 0; i < parents; i++) {
    list.push({ task: 'null', name: `a${i}` });
    list.push({ task: 'null', name: `b${i}` });
    list.push({ task: 'null', name: `p${i}`, requires_metadata_from: [`a${i}`, `b${i}`] });
  }
  return { job_name: jobName, task_list: list };
}

/** Name of step `step` of sequence `seq` in {@link sequencesChain}. */
export function stepName(seq: number, step: number): string {
  return `q${seq}s${step}`;
}

/**
 * `sequences` independent sequences of `steps` `null` tasks, each step reading the previous
 * one's metadata (`requires_metadata_from`), so each step is released by its producer passing
 * QC. One sequence sits directly in the job's task list; several go in one `execution_chain`
 * each (names are unique per sibling list).
 */
export function sequencesChain(
  sequences: number,
  steps: number,
  jobName = 'bench-seq',
): ChainDocument {
  const sequence = (seq: number): TaskDescriptor[] =>
    Array.from({ length: steps }, (_, k) => ({
      task: 'null',
      name: stepName(seq, k),
      ...(k > 0 ? { requires_metadata_from: [stepName(seq, k - 1)] } : {}),
    }));
  if (sequences === 1) return { job_name: jobName, task_list: sequence(0) };
  return {
    job_name: jobName,
    task_list: Array.from({ length: sequences }, (_, seq) => ({
      task: 'execution_chain',
      name: `seq${seq}`,
      task_list: sequence(seq),
    })),
  };
}
