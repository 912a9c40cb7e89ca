import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { EasError, parseDuration, type ResolvedConfig } from '../../core/index.js';
import {
  applyManifests,
  connectKubernetes,
  kustomizationYaml,
  manifestFileName,
  manifestsToYaml,
  objectToYaml,
  renderManifests,
  scaleWorkers,
  stopPipeline,
  workerDeploymentName,
  type KubeClient,
  type RenderedManifests,
} from '../../control/index.js';
import { loadRegistry, type TaskTypeRegistry } from '../../registry/index.js';
import { BUILTIN_TASK_TYPES } from '../../tasks/index.js';
import { configOf, type CommandContext } from '../context.js';
import { table } from '../format.js';

/** Options shared by the commands that talk to a cluster. */
interface ClusterOptions {
  kubeconfig?: string;
  context?: string;
}

/** The configuration, registry and rendered objects of the pipeline `eas.yaml` describes. */
async function renderPipeline(
  ctx: CommandContext,
): Promise<{ config: ResolvedConfig; registry: TaskTypeRegistry; rendered: RenderedManifests }> {
  const config = configOf(ctx, 'info');
  const registry = await loadRegistry(config.registry, {
    builtins: { ...BUILTIN_TASK_TYPES },
    baseDir: config.baseDir,
  });
  const registryText = await registrySource(config.registry);
  const rendered = renderManifests({ config, registry, registryText });
  return { config, registry, rendered };
}

/** The registry as the operator wrote it: the file's text, or the inline object as YAML. */
async function registrySource(registry: ResolvedConfig['registry']): Promise<string> {
  if (registry === undefined)
    return '# No registry configured: the built-in task types only.\n{}\n';
  if (typeof registry !== 'string') return stringify(registry, { lineWidth: 0 });
  return readFile(registry, 'utf8');
}

async function connect(ctx: CommandContext, opts: ClusterOptions): Promise<KubeClient> {
  return connectKubernetes({
    ...(opts.kubeconfig !== undefined ? { kubeconfig: resolve(ctx.cwd, opts.kubeconfig) } : {}),
    ...(opts.context !== undefined ? { context: opts.context } : {}),
  });
}

function clusterOptions(command: Command): Command {
  return command
    .option(
      '--kubeconfig <file>',
      'kubeconfig to use (default: KUBECONFIG, ~/.kube/config, or in-cluster)',
    )
    .option('--context <name>', 'kubeconfig context to use (default: its current context)');
}

function secretsHint(rendered: RenderedManifests): string {
  const lines = rendered.secrets.map(
    (s) =>
      `  kubectl -n ${rendered.namespace} create secret generic ${s.name} --from-file=${s.key}=<file holding the ${s.purpose}>`,
  );
  return `The pods read these Secrets, which are not rendered (no credentials in manifests):\n${lines.join('\n')}`;
}

/** `eas k8s render|apply|scale|stop`: the pipeline on Kubernetes (DESIGN §1, cluster mode). */
export function registerK8s(program: Command, ctx: CommandContext): void {
  const k8s = program
    .command('k8s')
    .description(
      'run the pipeline on Kubernetes: render manifests from eas.yaml and the registry, apply them, scale or stop workers',
    );

  k8s
    .command('render')
    .description(
      'write the Kubernetes manifests of the pipeline (eas.yaml "kubernetes:" key + the registry): YAML on stdout, or --out <dir> with one file per object and a kustomization.yaml',
    )
    .option('--out <dir>', 'write one file per object and a kustomization.yaml into this folder')
    .action(async (opts: { out?: string }) => {
      const { rendered } = await renderPipeline(ctx);
      if (opts.out === undefined) {
        ctx.output.out(manifestsToYaml(rendered.objects));
        ctx.output.err(secretsHint(rendered));
        return;
      }
      const dir = resolve(ctx.cwd, opts.out);
      const existing = await stat(dir).catch(() => undefined);
      if (existing && !existing.isDirectory()) {
        throw new EasError('USAGE', `--out ${dir} is a file, not a folder`, { where: '--out' });
      }
      await mkdir(dir, { recursive: true });
      const files = rendered.objects.map((o) => manifestFileName(o));
      for (const [i, object] of rendered.objects.entries()) {
        await writeFile(join(dir, files[i]!), objectToYaml(object));
      }
      await writeFile(join(dir, 'kustomization.yaml'), kustomizationYaml(files));
      ctx.output.out(
        `Wrote ${files.length} objects to ${dir}, listed in its kustomization.yaml (kubectl apply -k ${opts.out}).`,
      );
      ctx.output.out(secretsHint(rendered));
    });

  clusterOptions(
    k8s
      .command('apply')
      .description(
        'apply the rendered manifests to the cluster (server-side apply); worker Deployments keep their live replica count',
      )
      .option('--dry-run', 'let the API server check everything without changing anything'),
  ).action(async (opts: ClusterOptions & { dryRun?: boolean }) => {
    const { rendered } = await renderPipeline(ctx);
    const client = await connect(ctx, opts);
    const result = await applyManifests(client, rendered, { dryRun: opts.dryRun });
    ctx.output.out(
      table(
        ['kind', 'name', 'note'],
        result.applied.map((a) => [
          a.kind,
          a.name,
          a.keptReplicas !== undefined ? `kept ${a.keptReplicas} replicas` : '',
        ]),
      ),
    );
    ctx.output.out(
      `${opts.dryRun ? 'Checked (dry run)' : 'Applied'} ${result.applied.length} objects in namespace ${rendered.namespace} on ${client.server}.`,
    );
    if (result.missingSecrets.length > 0) {
      ctx.output.err(
        secretsHint({ ...rendered, secrets: result.missingSecrets }).replace(
          'The pods read these Secrets, which are not rendered',
          'Missing Secrets: the pods wait for them',
        ),
      );
    }
  });

  clusterOptions(
    k8s
      .command('scale')
      .description(
        "set the worker replicas of one registry container (the controller's autoscaling may change it again)",
      )
      .argument('<container>', 'registry container (see eas registry check)')
      .argument('<replicas>', 'replica count, an integer ≥ 0'),
  ).action(async (container: string, replicasText: string, opts: ClusterOptions) => {
    const replicas = Number(replicasText);
    if (!/^\d+$/.test(replicasText.trim()) || !Number.isSafeInteger(replicas)) {
      throw new EasError('USAGE', `<replicas> must be an integer ≥ 0, got "${replicasText}"`, {
        where: '<replicas>',
      });
    }
    const { registry, rendered } = await renderPipeline(ctx);
    registry.container(container);
    const client = await connect(ctx, opts);
    const r = await scaleWorkers(
      client,
      rendered.namespace,
      workerDeploymentName(container),
      replicas,
    );
    ctx.output.out(
      r.from === r.to
        ? `${rendered.namespace}/${r.deployment}: already ${r.to} replicas.`
        : `${rendered.namespace}/${r.deployment}: ${r.from} → ${r.to} replicas.`,
    );
  });

  clusterOptions(
    k8s
      .command('stop')
      .description(
        'stop the pipeline without losing work: the controller, then every worker Deployment to 0 replicas (workers finish or hand back running attempts within their grace period); --delete also removes the objects except the namespace and the file volume',
      )
      .option(
        '--delete',
        'then delete the rendered objects (never the namespace nor the file volume)',
      )
      .option(
        '--wait [duration]',
        'wait until no worker pod is left (default: the longest termination grace + 30s)',
      ),
  ).action(async (opts: ClusterOptions & { delete?: boolean; wait?: string | boolean }) => {
    let waitMs: number | undefined;
    const { rendered } = await renderPipeline(ctx);
    if (opts.wait === true) {
      waitMs =
        (Math.max(0, ...rendered.workers.map((w) => w.terminationGracePeriodSeconds)) + 30) * 1000;
    } else if (typeof opts.wait === 'string') {
      try {
        waitMs = parseDuration(opts.wait, '--wait');
      } catch (e) {
        throw new EasError('USAGE', (e as Error).message, { where: '--wait', cause: e });
      }
    }
    const client = await connect(ctx, opts);
    const r = await stopPipeline(client, rendered, {
      ...(opts.delete ? { delete: true } : {}),
      ...(waitMs !== undefined ? { waitMs } : {}),
    });
    for (const s of r.scaled) {
      ctx.output.out(`${rendered.namespace}/${s.deployment}: ${s.from} → 0 replicas`);
    }
    for (const m of r.missing) ctx.output.out(`${rendered.namespace}/${m}: not found, skipped`);
    if (waitMs !== undefined) {
      ctx.output.out(
        r.podsLeft === 0
          ? 'Every worker pod has stopped.'
          : `${r.podsLeft} worker pods still stopping when the wait ended.`,
      );
    }
    for (const d of r.deleted) ctx.output.out(`deleted ${d.kind} ${d.name}`);
    if (opts.delete) {
      ctx.output.out(
        `Kept namespace ${rendered.namespace} and its file volume; delete them with kubectl when the data is no longer needed.`,
      );
    } else {
      ctx.output.out('Queued work stays in the task database; eas k8s apply resumes.');
    }
  });
}
