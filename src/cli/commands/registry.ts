import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { Document, isMap, isPair } from 'yaml';
import { EasError, fileErrorWords } from '../../core/index.js';
import {
  IMPORTED_COMMAND_PREFIX,
  importXmlRegistry,
  loadRegistry,
  registryFromObject,
  type RegistryFile,
  type ResolvedTaskType,
  type TaskTypeRegistry,
} from '../../registry/index.js';
import { BUILTIN_TASK_TYPES } from '../../tasks/index.js';
import { configOf, type CommandContext } from '../context.js';
import { bytes, printJson, table } from '../format.js';

/** `eas registry import <xml>`, `eas registry check [file]`. */
export function registerRegistry(program: Command, ctx: CommandContext): void {
  const registry = program
    .command('registry')
    .description('the task-type registry: import the original XML one, check a registry file');

  registry
    .command('import')
    .description(
      "convert the original's XML task-type registry (task_type_registry.xml) into a registry file",
    )
    .argument('<xml>', 'the XML registry')
    .option('-o, --output <file>', 'registry file to write (.yaml, or .json)', 'registry.yaml')
    .option('--force', 'overwrite an existing output file')
    .action(async (xml: string, opts: { output: string; force?: boolean }) => {
      const input = resolve(ctx.cwd, xml);
      const output = resolve(ctx.cwd, opts.output);
      let text: string;
      try {
        text = await readFile(input, 'utf8');
      } catch (e) {
        throw new EasError('NOT_FOUND', `Cannot read ${input}: ${fileErrorWords(e)}`, {
          where: input,
          cause: e,
        });
      }
      if (existsSync(output) && !opts.force) {
        throw new EasError('CONFLICT', `${output} exists already. Use --force to overwrite it.`, {
          where: output,
        });
      }
      const { registry: file, warnings } = importXmlRegistry(text, input, {
        builtins: BUILTIN_TASK_TYPES,
      });
      // Never write a registry that plato-eas would refuse to load.
      const loaded = registryFromObject(file, {
        builtins: BUILTIN_TASK_TYPES,
        baseDir: dirname(output),
        source: output,
      });
      await writeFile(output, formatRegistry(file, basename(input), output));

      const containers = Object.keys(file.containers ?? {}).length;
      const types = Object.keys(file.taskTypes ?? {}).length;
      const commands = loaded.types().filter((t) => t.runner.kind === 'command').length;
      ctx.output.out(
        `Imported ${input}\n  into ${output}: ${containers} containers, ${types} task types (${commands} external commands ${IMPORTED_COMMAND_PREFIX}<name>).`,
      );
      for (const w of warnings) ctx.output.err(`warning: ${w}`);
      const shown = relative(ctx.cwd, output) || output;
      ctx.output.out(
        `Next: point eas.yaml at it (a path relative to eas.yaml):\n  registry: ${shown}\nthen check it with: eas registry check`,
      );
    });

  registry
    .command('check')
    .description(
      'load a registry file (or the configured one: --registry, EAS_REGISTRY, eas.yaml) and list how each task type runs',
    )
    .argument('[file]', 'registry file (YAML or JSON); default: the configured registry')
    .option('--json', 'print the registry as JSON')
    .action(async (file: string | undefined, opts: { json?: boolean }) => {
      let loaded: TaskTypeRegistry;
      if (file !== undefined) {
        loaded = await loadRegistry(resolve(ctx.cwd, file), {
          builtins: { ...BUILTIN_TASK_TYPES },
          baseDir: ctx.cwd,
        });
      } else {
        const config = configOf(ctx);
        loaded = await loadRegistry(config.registry, {
          builtins: { ...BUILTIN_TASK_TYPES },
          baseDir: config.baseDir,
        });
      }
      if (opts.json) return printJson(ctx.output, { valid: true, ...loaded.toJSON() });
      const types = loaded.types();
      const source =
        loaded.source === 'built-in'
          ? 'no registry configured: built-in task types only'
          : loaded.source;
      ctx.output.out(
        `Registry ${source}: valid. ${loaded.containers().length} containers, ${types.length} task types.\n`,
      );
      ctx.output.out(
        table(
          ['container', 'image', 'cpu', 'memory', 'gpu', 'concurrency', 'workers'],
          loaded
            .containers()
            .map((c) => [
              c.name,
              c.image ?? '-',
              c.cpu,
              bytes(c.memoryBytes),
              c.gpu,
              c.concurrency,
              `${c.scaling.min}–${c.scaling.max}`,
            ]),
        ),
      );
      ctx.output.out('');
      ctx.output.out(
        table(
          ['task type', 'container', 'runs'],
          types.map((t) => [t.name, t.container ?? '-', howItRuns(t)]),
        ),
      );
    });
}

/** `command eas-task-verify`, `module /abs/handlers.mjs#fit`, `built-in`, `controller`. */
function howItRuns(t: ResolvedTaskType): string {
  const r = t.runner;
  switch (r.kind) {
    case 'command':
      return `command ${r.argv.map((a) => (/^[-\w./:=@+,]+$/.test(a) ? a : JSON.stringify(a))).join(' ')}`;
    case 'module':
      return `module ${r.modulePath}#${r.exportName}`;
    case 'builtin':
      return 'built-in';
    case 'controller':
      return 'controller (control flow)';
  }
}

/** The registry file's text: YAML with a header comment, or JSON for a `.json` output. */
function formatRegistry(file: RegistryFile, from: string, output: string): string {
  if (extname(output).toLowerCase() === '.json') return `${JSON.stringify(file, null, 2)}\n`;
  const doc = new Document(file);
  doc.commentBefore = [
    ` Task-type registry imported by \`eas registry import\` from the original's ${from}.`,
    ` Task types that are not built in run the command eas-task-<name>: a program that the`,
    ` image of their container provides on PATH (given the task as a JSON file in EAS_TASK_FILE).`,
    ` Point eas.yaml's "registry:" key at this file; check it with \`eas registry check\`.`,
  ].join('\n');
  // One line per container and task type.
  if (isMap(doc.contents)) {
    for (const section of doc.contents.items) {
      if (!isPair(section) || !isMap(section.value)) continue;
      for (const entry of section.value.items) {
        if (isPair(entry) && isMap(entry.value)) entry.value.flow = true;
      }
    }
  }
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}
