/**
 * The three workflows of the prompts (prompts.ts) also as MCP Skills (SEP-2640, the SDK's
 * `ext/skills`): short procedures an agent loads on demand (`skills/list`, `skills/get`, the skill
 * resources). Each names only tools this server has (test/skills.test.ts checks it).
 */
import { memorySkillFiles, SkillCatalog } from '@modelcontextprotocol/server/ext/skills';

const skill = (name: string, description: string, steps: string[]) => ({
  [`${name}/SKILL.md`]: `---\nname: ${name}\ndescription: ${description}\n---\n\n# ${description}\n\n${steps.map((s, i) => `${i + 1}. ${s}`).join('\n')}\n`,
});

export const SKILL_FILES: Record<string, string> = {
  ...skill(
    'deploy-server',
    'Install a new Flops VM from a distribution and a tariff, and report how to reach it',
    [
      'Check the catalogs: tariff_list and distribution_list. Pick the smallest tariff that fits and say which.',
      'If the user has SSH keys (pubkey_list), pass their ids as publicKeyIds; else a strong password (Latin letters in both cases and a digit).',
      'Preview with vm_install and dryRun: true; then call vm_install with distribution and tariff by name, and wait: true (or follow the task).',
      'Report the VM id, state, public IPs and how to connect (ssh root@IP).',
    ],
  ),
  ...skill('resize-safely', 'Resize a Flops VM (memory, disk, cpu) with a snapshot to roll back to', [
    'Find the VM (vm_list, vm_get). On a fixed tariff, resizing is refused: propose vm_tariff_change instead.',
    'Take a snapshot first: vm_snapshot_create with wait: true (or safetySnapshot: true on the change).',
    'Apply each change with wait: true, one at a time: vm_memory_change (allowRestart to shrink), vm_disk_change (disks only grow), vm_cpu_change.',
    'Check with vm_get: the new sizes, state VIR_DOMAIN_RUNNING. If the check fails, vm_snapshot_rollback to the snapshot (wait: true).',
  ]),
  ...skill('restore-from-backup', 'Restore a Flops VM from one of its backups, after saying what is lost', [
    'Find the VM and list its backups (vm_backup_list); if there are none, say so: vm_backup_policy_change sets how often they are taken.',
    'Let the user choose; preview with vm_backup_rollback and dryRun: true to show what is lost (all snapshots, the current disk).',
    'Call vm_backup_rollback with wait: true once the user confirms; then vm_get to check the VM runs.',
  ]),
};

let catalog: Promise<SkillCatalog> | undefined;

/** The catalog, built once per process (digests are computed asynchronously). */
export function loadSkills(): Promise<SkillCatalog> {
  catalog ??= SkillCatalog.load(memorySkillFiles(SKILL_FILES), { strict: true });
  return catalog;
}
