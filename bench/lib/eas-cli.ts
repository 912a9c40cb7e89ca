// The `eas` CLI from the sources, for bench scenarios that start daemons (run under tsx, so
// the bench measures the code in the tree without a build).
import { main } from '../../src/cli/index.js';

process.exitCode = await main(process.argv.slice(2));
