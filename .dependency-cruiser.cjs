/**
 * Dependency direction of STYLE.md §1:
 *   core ← registry, chain, taskdb, queue, filestore, science ← control, sdk ← tasks ← web, cli, testing
 * Leaves never import each other, control and sdk never import each other, and a module reaches
 * another only through that module's index.ts.
 */
const LEAVES = ['registry', 'chain', 'taskdb', 'queue', 'filestore', 'science'];
const leafRe = `(${LEAVES.join('|')})`;

module.exports = {
  forbidden: [
    {
      name: 'core-imports-nothing',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '^src/(?!core/)' },
    },
    {
      name: 'leaves-only-import-core',
      comment: 'registry, chain, taskdb, queue, filestore and science depend on core alone.',
      severity: 'error',
      from: { path: `^src/${leafRe}/` },
      to: { path: '^src/', pathNot: ['^src/core/', `^src/$1/`] },
    },
    {
      name: 'control-and-sdk-are-independent',
      severity: 'error',
      from: { path: '^src/(control|sdk)/' },
      to: { path: '^src/(control|sdk|tasks|web|cli|testing)/', pathNot: '^src/$1/' },
    },
    {
      name: 'tasks-sit-below-surfaces',
      severity: 'error',
      from: { path: '^src/tasks/' },
      to: { path: '^src/(control|web|cli|testing)/' },
    },
    {
      name: 'only-through-index',
      comment: 'Another module is reached only through its index.ts.',
      severity: 'error',
      from: { path: '^src/([^/]+)/' },
      to: { path: '^src/([^/]+)/.+', pathNot: ['^src/$1/', '^src/[^/]+/index\\.ts$'] },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(dist|node_modules)/' },
  },
};
