/**
 * The public entry points of `plato-eas`: subpath → source file. tsup builds these, typedoc
 * documents them and `package.json` exports them; a test keeps the three in step.
 */
export const ENTRY_POINTS: Record<string, string> = {
  index: 'src/index.ts',
  'taskdb/index': 'src/taskdb/index.ts',
  'queue/index': 'src/queue/index.ts',
  'filestore/index': 'src/filestore/index.ts',
  'control/index': 'src/control/index.ts',
  'sdk/index': 'src/sdk/index.ts',
  'chain/index': 'src/chain/index.ts',
  'testing/index': 'src/testing/index.ts',
  'science/index': 'src/science/index.ts',
};
