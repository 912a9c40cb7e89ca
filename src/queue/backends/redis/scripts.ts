import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EasError } from '../../../core/index.js';
import { SCRIPT_KEY_COUNT } from './keys.js';
import { LUA_SCRIPTS } from './lua.generated.js';

/**
 * The queue's Lua scripts: the command name each is defined under (ioredis `defineCommand`)
 * and its file in {@link luaDir}. Each file opens with a block stating its KEYS, ARGV and
 * return value; all take the same {@link SCRIPT_KEY_COUNT} keys (the `-6` of the file name).
 */
export const SCRIPT_FILES = {
  easEnqueueItems: 'enqueue-items-6.lua',
  easAdoptItems: 'adopt-items-6.lua',
  easClaimItems: 'claim-items-6.lua',
  easExtendLeases: 'extend-leases-6.lua',
  easFinishLeases: 'finish-leases-6.lua',
  easReclaimLeases: 'reclaim-leases-6.lua',
  easReleaseOwner: 'release-owner-6.lua',
  easRemoveItems: 'remove-items-6.lua',
  easRemoveJob: 'remove-job-6.lua',
  easClearQueue: 'clear-queue-6.lua',
  easCountItems: 'count-items-6.lua',
} as const;

/** The name a script is called by. */
export type ScriptName = keyof typeof SCRIPT_FILES;

/** A script ready for `defineCommand`. */
export interface LoadedScript {
  /** The command name. */
  name: ScriptName;
  /** The number of KEYS it takes. */
  numberOfKeys: number;
  /** Its source, includes resolved. */
  lua: string;
}

/**
 * The folder of the `.lua` sources, `lua/` beside this module — meaningful from the sources
 * only (tests read the files there). At run time the scripts come from `lua.generated.ts`,
 * which `scripts/generate-lua.mjs` builds from these files (STYLE §6).
 */
export function luaDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), 'lua');
}

/**
 * Every script of {@link SCRIPT_FILES}, includes resolved, from the generated module (so the
 * scripts ship inside the bundle).
 *
 * @throws EasError `INTERNAL` when the generated module lacks a script (the build is stale).
 */
export function loadScripts(): Promise<LoadedScript[]> {
  const scripts: LoadedScript[] = [];
  for (const [name, file] of Object.entries(SCRIPT_FILES) as [ScriptName, string][]) {
    const lua = LUA_SCRIPTS[file];
    if (lua === undefined) {
      return Promise.reject(
        new EasError(
          'INTERNAL',
          `The Redis queue's Lua script ${file} is not in lua.generated.ts: run node scripts/generate-lua.mjs.`,
          { where: 'queue.redis' },
        ),
      );
    }
    scripts.push({ name, numberOfKeys: SCRIPT_KEY_COUNT, lua });
  }
  return Promise.resolve(scripts);
}
