import { describe, expect, it } from '@jest/globals';
import { SolgateError } from '#libs/common';
import { validateNodeFields, type NodeRecord, type WritableNodeFields } from '#libs/nodes';
import { IronicSyncError } from './errors.js';
import type { IronicClient, IronicNode } from './ironic-client.js';
import { IronicSync, planSync, summaryLine, type SyncTarget } from './ironic-sync.js';
import { mapConsoleInterface, mapIronicNode, SYNC_MARK } from './node-mapping.js';

const U = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

function ironicNode(n: number, over: Partial<IronicNode> = {}): IronicNode {
  return {
    uuid: U(n),
    name: `node-${n}`,
    driver: 'ipmi',
    driver_info: { ipmi_address: `10.0.0.${n}`, ipmi_port: 623, ipmi_username: 'admin', ipmi_password: `pw-${n}`, deploy_kernel: 'glance://k' },
    conductor_group: '',
    console_interface: 'ipmitool-socat',
    console_enabled: false,
    ...over,
  };
}

function record(fields: WritableNodeFields, over: Partial<NodeRecord> = {}): NodeRecord {
  return { ...fields, console_enabled: false, console_generation: 0, provision_state: 'enroll', created_at: 1, updated_at: null, rev: 1, console_rev: 1, ...over };
}

/** An in-memory SyncTarget with the repository's semantics (unique names, compare-and-set). */
class MemoryTarget implements SyncTarget {
  nodes = new Map<string, NodeRecord>();
  writes: string[] = [];
  async listNodes() {
    return [...this.nodes.values()].map((n) => structuredClone(n));
  }
  async get(uuid: string) {
    return this.nodes.get(uuid) && structuredClone(this.nodes.get(uuid)!);
  }
  private nameTaken(name: string | null, uuid: string) {
    return !!name && [...this.nodes.values()].some((n) => n.name === name && n.uuid !== uuid);
  }
  private instanceTaken(instance: string | null, uuid: string) {
    return !!instance && [...this.nodes.values()].some((n) => n.instance_uuid === instance && n.uuid !== uuid);
  }
  async create(fields: WritableNodeFields) {
    if (this.nameTaken(fields.name, fields.uuid)) throw new SolgateError('CONFLICT', `A node with name ${fields.name} already exists.`);
    if (this.instanceTaken(fields.instance_uuid, fields.uuid)) throw new SolgateError('CONFLICT', `Instance ${fields.instance_uuid} is already associated with a node, it cannot be associated with this other node ${fields.uuid}`);
    const n = record(fields);
    this.nodes.set(n.uuid, n);
    this.writes.push(`create ${n.uuid}`);
    return n;
  }
  async update(node: NodeRecord, fields: WritableNodeFields) {
    const cur = this.nodes.get(node.uuid);
    if (!cur) throw new SolgateError('NODE_NOT_FOUND', 'gone');
    if (cur.rev !== node.rev) throw new SolgateError('CONFLICT', `Node ${node.uuid} was changed by another request; retry.`);
    if (this.nameTaken(fields.name, node.uuid)) throw new SolgateError('CONFLICT', `A node with name ${fields.name} already exists.`);
    if (this.instanceTaken(fields.instance_uuid, node.uuid)) throw new SolgateError('CONFLICT', `Instance ${fields.instance_uuid} is already associated with a node, it cannot be associated with this other node ${node.uuid}`);
    const n = { ...cur, ...fields, rev: cur.rev + 1 };
    this.nodes.set(n.uuid, n);
    this.writes.push(`update ${n.uuid}`);
    return n;
  }
  async delete(node: NodeRecord) {
    this.nodes.delete(node.uuid);
    this.writes.push(`delete ${node.uuid}`);
  }
}

function fakeClient(nodes: IronicNode[]): IronicClient {
  return {
    baseUrl: 'http://ironic:6385',
    version: '1.78',
    listNodes: async ({ onPage }: { onPage?: (n: IronicNode[]) => void } = {}) => {
      onPage?.(nodes);
      return structuredClone(nodes);
    },
  } as unknown as IronicClient;
}

describe('mapping an Ironic node', () => {
  it('keeps the console keys of driver_info only, marks new nodes, and validates like the API', () => {
    const m = mapIronicNode(ironicNode(1, { conductor_group: 'Rack1', driver_info: { ...ironicNode(1).driver_info, ipmi_terminal_port: '31000', ipmi_priv_level: 'operator', ipmi_cipher_suite: 17 } }), undefined);
    expect(m.ok).toBe(true);
    if (!m.ok) return;
    expect(m.fields).toMatchObject({
      uuid: U(1),
      name: 'node-1',
      driver: 'ipmi',
      console_interface: 'ipmitool-socat',
      conductor_group: 'rack1',
      extra: { [SYNC_MARK]: true },
      driver_info: { ipmi_address: '10.0.0.1', ipmi_port: 623, ipmi_username: 'admin', ipmi_password: 'pw-1', ipmi_terminal_port: '31000', ipmi_priv_level: 'OPERATOR', ipmi_cipher_suite: 17 },
    });
    expect(m.fields.driver_info).not.toHaveProperty('deploy_kernel');
  });

  it('mirrors the Nova-facing fields: instance_uuid, maintenance and its reason, resource class, owner, lessee, traits, shard', () => {
    const instance = '11111111-2222-4333-8444-555555555555';
    const m = mapIronicNode(
      ironicNode(5, { instance_uuid: instance, maintenance: true, maintenance_reason: 'disk', resource_class: 'baremetal-large', owner: 'p1', lessee: 'p2', traits: ['CUSTOM_GPU'], shard: 's1' }),
      undefined,
    );
    expect(m.ok && m.fields).toMatchObject({ instance_uuid: instance, maintenance: true, maintenance_reason: 'disk', resource_class: 'baremetal-large', owner: 'p1', lessee: 'p2', traits: ['CUSTOM_GPU'], shard: 's1' });
    // an Ironic too old to report a field leaves solgate's value alone
    const base = mapIronicNode(ironicNode(6, { owner: 'p1' }), undefined);
    if (!base.ok) throw new Error(base.reason);
    const { owner: _owner, ...old } = ironicNode(6);
    const kept = mapIronicNode(old as IronicNode, record(base.fields));
    expect(kept.ok && kept.fields.owner).toBe('p1');
  });

  it('maps console interfaces and says when the meaning changes', () => {
    expect(mapConsoleInterface('ipmitool-socat')).toEqual({ iface: 'ipmitool-socat' });
    expect(mapConsoleInterface('no-console')).toEqual({ iface: 'no-console' });
    expect(mapConsoleInterface(null)).toEqual({ iface: 'no-console' });
    expect(mapConsoleInterface('ipmitool-shellinabox').iface).toMatch(/^ipmitool-(socat|shellinabox)$/);
    expect(mapConsoleInterface('redfish-graphical')).toEqual({ iface: 'no-console', note: expect.stringContaining('redfish-graphical') });
    const m = mapIronicNode(ironicNode(2, { driver: 'redfish', console_interface: 'no-console' }), undefined);
    expect(m.ok && m.notes).toEqual([expect.stringContaining('Ironic driver redfish')]);
  });

  it('keeps what the sync does not own: description, properties, extra, other driver_info keys; a masked password keeps the stored one', () => {
    const existing = record(
      validateNodeFields({ uuid: U(3), name: 'old', driver: 'ipmi', description: 'rack 3', properties: { cpus: 8 }, extra: { team: 'a' }, driver_info: { ipmi_address: '10.0.0.3', ipmi_password: 'stored', operator_note: 'x', ipmi_terminal_port: 30000 } }),
    );
    const m = mapIronicNode(ironicNode(3, { driver_info: { ipmi_address: '10.0.0.3', ipmi_password: '******' } }), existing);
    expect(m.ok && m.fields).toMatchObject({ name: 'node-3', description: 'rack 3', properties: { cpus: 8 }, extra: { team: 'a' }, driver_info: { ipmi_address: '10.0.0.3', ipmi_password: 'stored', operator_note: 'x' } });
    // ipmi_terminal_port is Ironic's to decide: gone there, gone here
    expect(m.ok && m.fields.driver_info).not.toHaveProperty('ipmi_terminal_port');
    expect(m.passwordMasked).toBe(true);
  });

  it('skips a node solgate would refuse, with the reason', () => {
    const m = mapIronicNode(ironicNode(4, { driver_info: { ipmi_address: '10.0.0.4; reboot' } }), undefined);
    expect(m).toMatchObject({ ok: false, reason: expect.stringContaining('ipmi_address') });
  });
});

describe('planning a sync', () => {
  const existing = (n: IronicNode, over: Partial<NodeRecord> = {}) => {
    const m = mapIronicNode(n, undefined);
    if (!m.ok) throw new Error(m.reason);
    return record(m.fields, over);
  };

  it('creates, updates, leaves alone, deletes only synced nodes, and never takes an operator node’s name', () => {
    const same = ironicNode(1);
    const changed = ironicNode(2);
    const goneSynced = existing(ironicNode(3));
    const operator = record(validateNodeFields({ uuid: U(4), name: 'node-5', driver: 'ipmi' }));
    const plan = planSync(
      [same, { ...changed, name: 'node-2b' }, ironicNode(5), ironicNode(6)],
      [existing(same), existing(changed), goneSynced, operator],
    );
    const kinds = Object.fromEntries(plan.actions.map((a) => [a.uuid, a.kind]));
    expect(kinds).toEqual({ [U(1)]: 'unchanged', [U(2)]: 'update', [U(3)]: 'delete', [U(5)]: 'skip', [U(6)]: 'create' });
    expect(plan.actions.find((a) => a.uuid === U(5))).toMatchObject({ reason: `name node-5 is taken by solgate node ${U(4)}, which Ironic does not have` });
    expect(plan.actions.find((a) => a.uuid === U(2))).toMatchObject({ changes: ['name'] });
    expect(planSync([], [goneSynced], { prune: false }).actions).toEqual([]);
  });

  it('reports changed fields by name only, never a password value', () => {
    const before = existing(ironicNode(1));
    const plan = planSync([ironicNode(1, { driver_info: { ...ironicNode(1).driver_info, ipmi_password: 'new-secret' } })], [before]);
    expect(plan.actions[0]).toMatchObject({ kind: 'update', changes: ['driver_info.ipmi_password'] });
    expect(JSON.stringify((plan.actions[0] as { changes: string[] }).changes)).not.toContain('new-secret');
  });
});

describe('IronicSync.run', () => {
  it('applies the plan, is idempotent, and swaps names between two nodes', async () => {
    const target = new MemoryTarget();
    const nodes = [ironicNode(1), ironicNode(2)];
    const s1 = await new IronicSync(fakeClient(nodes), target).run();
    expect(s1).toMatchObject({ ironic_nodes: 2, created: 2, updated: 0, deleted: 0, unchanged: 0, skipped: [] });
    const s2 = await new IronicSync(fakeClient(nodes), target).run();
    expect(s2).toMatchObject({ created: 0, updated: 0, deleted: 0, unchanged: 2 });
    expect(summaryLine(s2)).toMatch(/^2 nodes in Ironic: 0 created, 0 updated, 0 deleted, 2 unchanged, 0 skipped — nothing to change \(\d+\.\d s\)$/);
    // Ironic swapped the two names
    const swapped = [ironicNode(1, { name: 'node-2' }), ironicNode(2, { name: 'node-1' })];
    const s3 = await new IronicSync(fakeClient(swapped), target).run();
    expect(s3).toMatchObject({ updated: 2, skipped: [] });
    expect((await target.get(U(1)))!.name).toBe('node-2');
    expect((await target.get(U(2)))!.name).toBe('node-1');
    // an instance moved from node 1 to node 2 in Ironic (unprovisioned there, deployed here)
    const instance = '11111111-2222-4333-8444-555555555555';
    await new IronicSync(fakeClient([ironicNode(1, { name: 'node-2', instance_uuid: instance }), ironicNode(2, { name: 'node-1' })]), target).run();
    // (node 2 listed first so that its write meets the instance still on node 1)
    const moved = await new IronicSync(fakeClient([ironicNode(2, { name: 'node-1', instance_uuid: instance }), ironicNode(1, { name: 'node-2', instance_uuid: null })]), target).run();
    expect(moved).toMatchObject({ updated: 2, skipped: [] });
    expect((await target.get(U(2)))!.instance_uuid).toBe(instance);
    expect((await target.get(U(1)))!.instance_uuid).toBeNull();
    // and gone from Ironic: deleted (they were created by the sync) — but only with --allow-empty when Ironic lists nothing
    await expect(new IronicSync(fakeClient([]), target).run()).rejects.toMatchObject({ code: 'UNSAFE' });
    expect(target.nodes.size).toBe(2);
    const s4 = await new IronicSync(fakeClient([]), target).run({ allowEmpty: true });
    expect(s4).toMatchObject({ deleted: 2 });
  });

  it('refuses when every password is masked, changing nothing; goes on with --allow-masked-passwords', async () => {
    const target = new MemoryTarget();
    const masked = [ironicNode(1, { driver_info: { ipmi_address: '10.0.0.1', ipmi_password: '******' } }), ironicNode(2, { driver_info: { ipmi_address: '10.0.0.2', ipmi_password: '******' } })];
    const err = await new IronicSync(fakeClient(masked), target).run().catch((e) => e);
    expect(err).toBeInstanceOf(IronicSyncError);
    expect(err.code).toBe('PASSWORDS_MASKED');
    expect(err.message).toContain('"show_password"');
    expect(target.writes).toEqual([]);
    const s = await new IronicSync(fakeClient(masked), target).run({ allowMaskedPasswords: true });
    expect(s.created).toBe(2);
    expect(s.notes).toHaveLength(2);
    expect((await target.get(U(1)))!.driver_info).not.toHaveProperty('ipmi_password');
    // nodes without any password are no reason to refuse
    await expect(new IronicSync(fakeClient([ironicNode(3, { driver_info: { ipmi_address: '10.0.0.3' } })]), new MemoryTarget()).run()).resolves.toMatchObject({ created: 1 });
  });

  it('a dry run writes nothing; the guard stops a pass before its next write', async () => {
    const target = new MemoryTarget();
    const dry = await new IronicSync(fakeClient([ironicNode(1)]), target).run({ dryRun: true });
    expect(dry).toMatchObject({ created: 1, dry_run: true });
    expect(target.writes).toEqual([]);
    const lost = new IronicSyncError('LEASE_LOST', 'lease gone');
    await expect(
      new IronicSync(fakeClient([ironicNode(1)]), target).run({
        guard: () => {
          throw lost;
        },
      }),
    ).rejects.toBe(lost);
    expect(target.writes).toEqual([]);
  });
});
