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

/**
 * The shape of the original's largest demo (DESIGN §9): five nested loops — 3 TDAs × 1 cadence
 * × 24 planet sizes × 24 orbital periods × 12 impact parameters — each leaf chain synthesising
 * a noise light curve and a transit, multiplying them, verifying and searching: 128,030 tasks
 * (103,680 leaves, 22,543 execution_chain, 1,807 execution_for_loop). Filenames and parameters
 * are expressions, as in the original's chains.
 */
export function gridChain(jobName = 'bench-grid'): ChainDocument {
  const idx = '{tda_index}_{cadence_index}_{size_index}_{period_index}_{b_index}';
  const file = (prefix: string): string => `'${prefix}_${idx}.gz'.format(**metadata)`;
  const leaf: TaskDescriptor[] = [
    {
      task: 'synthesis_transit',
      name: 'noise',
      outputs: { lightcurve: file('noise') },
      specs: {
        duration: 730,
        planet_radius: 0,
        noise: '(constants.plato_noise)',
        sampling_cadence: "(metadata['cadence'])",
      },
    },
    {
      task: 'synthesis_transit',
      name: 'transit',
      outputs: { lightcurve: file('transit') },
      specs: {
        duration: 730,
        planet_radius: "(metadata['size'])",
        orbital_period: "(metadata['period'])",
        impact_parameter: "(metadata['b'])",
        sampling_cadence: "(metadata['cadence'])",
      },
    },
    {
      task: 'multiply',
      name: 'inject',
      inputs: { lightcurve_1: file('noise'), lightcurve_2: file('transit') },
      outputs: { lightcurve: file('lc') },
    },
    { task: 'verify', name: 'verify', inputs: { lightcurve: file('lc') } },
    {
      task: "'transit_search_{tda}'.format(**metadata)",
      name: 'search',
      inputs: { lightcurve: file('lc') },
      lc_duration: 730,
    },
  ];
  const loop = (
    parameter: string,
    range: Record<string, unknown>,
    body: TaskDescriptor[],
  ): TaskDescriptor => ({
    task: 'execution_for_loop',
    parameter,
    ...range,
    task_list: body,
  });
  return {
    job_name: jobName,
    working_directory: 'grid',
    task_list: [
      loop('tda', { values: ['bls', 'tls', 'qats'] }, [
        loop('cadence', { values: [900] }, [
          loop('size', { log_range: ['(constants.Rearth / 4)', '(constants.Rearth * 4)', 24] }, [
            loop('period', { linear_range: [5, 120, 24] }, [
              loop('b', { linear_range: [0, 0.9, 12] }, leaf),
            ]),
          ]),
        ]),
      ]),
    ],
  };
}

/** A registry declaring the grid's science task types (submission only; nothing runs them). */
export const GRID_REGISTRY = {
  taskTypes: Object.fromEntries(
    [
      'synthesis_transit',
      'multiply',
      'verify',
      'transit_search_bls',
      'transit_search_tls',
      'transit_search_qats',
    ].map((t) => [t, { command: [`eas-task-${t}`] }]),
  ),
};
