import { describe, expect, it } from '@jest/globals';
import { isSolgateError } from '#libs/common';
import { maskInstanceInfo, nodeFieldDefaults, type NodeRecord } from './node.model.js';
import { NodeRepository } from './node.repository.js';
import { applyNodePatch } from './node.service.js';
import { validateNodeFields } from './node.validation.js';

/** The Ironic fields Nova and operators write (instance, maintenance, placement, tenancy, traits). */
const base = { driver: 'ipmi', driver_info: { ipmi_address: '10.0.0.1' } };
const INSTANCE = '6f0f4a8e-3c52-4d0a-9d7e-2b4b0a1c9e11';

const stored = (over: Partial<NodeRecord> = {}): NodeRecord => ({
  ...validateNodeFields({ ...base, uuid: '11111111-1111-4111-8111-111111111111' }),
  console_enabled: false,
  console_generation: 0,
  provision_state: 'enroll',
  created_at: 0,
  updated_at: null,
  rev: 3,
  console_rev: 2,
  ...over,
});

const failure = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    if (isSolgateError(e) && e.code === 'INVALID_INPUT') return e.message;
    throw e;
  }
  throw new Error('expected INVALID_INPUT');
};

describe('node fields as Ironic has them', () => {
  it('defaults every new field the way Ironic shows a fresh node', () => {
    const f = validateNodeFields(base);
    expect(f).toMatchObject(nodeFieldDefaults());
    expect(nodeFieldDefaults().traits).not.toBe(nodeFieldDefaults().traits); // fresh objects, never shared
  });

  it('accepts and normalizes what Ironic accepts', () => {
    const f = validateNodeFields({
      ...base,
      instance_uuid: INSTANCE.toUpperCase(),
      instance_info: { image_source: 'glance://x', root_gb: 10 },
      maintenance: 'true',
      maintenance_reason: 'disk swap',
      resource_class: 'baremetal-large',
      owner: 'project-a',
      lessee: 'project-b',
      traits: ['CUSTOM_GPU', 'HW_CPU_X86_AVX2', 'CUSTOM_GPU'],
      shard: 'rack-1',
    });
    expect(f).toMatchObject({
      instance_uuid: INSTANCE,
      maintenance: true,
      maintenance_reason: 'disk swap',
      resource_class: 'baremetal-large',
      owner: 'project-a',
      lessee: 'project-b',
      traits: ['CUSTOM_GPU', 'HW_CPU_X86_AVX2'],
      shard: 'rack-1',
    });
  });

  it('drops the maintenance reason when maintenance is off, as Ironic’s conductor does', () => {
    expect(validateNodeFields({ ...base, maintenance: false, maintenance_reason: 'x' }).maintenance_reason).toBeNull();
  });

  it.each([
    [{ instance_uuid: 'not-a-uuid' }, 'Expected UUID for instance_uuid: not-a-uuid'],
    [{ instance_uuid: 5 }, 'Expected UUID for instance_uuid: 5'],
    [{ instance_info: 'x' }, 'Invalid instance_info: must be an object.'],
    [{ instance_info: [] }, 'Invalid instance_info: must be an object.'],
    [{ maintenance: 'maybe' }, "Invalid maintenance: Unrecognized value 'maybe'"],
    [{ maintenance: true, maintenance_reason: 7 }, 'Invalid maintenance_reason'],
    [{ resource_class: 'x'.repeat(81) }, 'Invalid resource_class: a string of at most 80 characters.'],
    [{ owner: 'x'.repeat(256) }, 'Invalid owner'],
    [{ lessee: {} }, 'Invalid lessee'],
    [{ traits: 'CUSTOM_A' }, 'Invalid traits: must be a list'],
    [{ traits: ['custom_lower'] }, 'Invalid trait "custom_lower"'],
    [{ traits: ['CUSTOM_A;rm'] }, 'Invalid trait'],
    [{ traits: Array.from({ length: 51 }, (_, i) => `CUSTOM_T${i}`) }, 'at most 50 traits'],
    [{ shard: 1 }, 'Invalid shard'],
    [{ deploy_interface: 'direct' }, "Setting 'deploy_interface' is not supported by this service"],
    [{ power_interface: 'ipmitool', retired: true }, "Setting 'power_interface', 'retired' is not supported by this service"],
  ])('refuses %j', (extra, message) => {
    expect(failure(() => validateNodeFields({ ...base, ...extra }))).toContain(message);
  });
});

describe('applyNodePatch on the new fields', () => {
  it('sets instance fields the way Nova patches them, creating instance_info paths', () => {
    const out = applyNodePatch(stored(), [
      { op: 'add', path: '/instance_uuid', value: INSTANCE },
      { op: 'add', path: '/instance_info/image_source', value: 'glance://img' },
      { op: 'add', path: '/traits/-', value: 'CUSTOM_X' },
      { op: 'replace', path: '/maintenance', value: true },
      { op: 'add', path: '/maintenance_reason', value: 'rack move' },
    ]);
    expect(out).toMatchObject({ instance_uuid: INSTANCE, instance_info: { image_source: 'glance://img' }, traits: ['CUSTOM_X'], maintenance: true, maintenance_reason: 'rack move' });
  });

  it('removing a field puts its default back', () => {
    const node = stored({ instance_uuid: INSTANCE, instance_info: { a: 1 }, maintenance: true, maintenance_reason: 'r', owner: 'p', traits: ['CUSTOM_A'] });
    const out = applyNodePatch(node, ['/instance_uuid', '/instance_info', '/maintenance', '/owner', '/traits'].map((path) => ({ op: 'remove', path })));
    expect(out).toMatchObject({ instance_uuid: null, instance_info: {}, maintenance: false, maintenance_reason: null, owner: null, traits: [] });
  });

  it.each([
    [[{ op: 'replace', path: '/fault', value: 'power failure' }], "'/fault' is an internal attribute and can not be updated"],
    [[{ op: 'replace', path: '/provision_state', value: 'active' }], "'/provision_state' is an internal attribute"],
    [[{ op: 'replace', path: '/boot_interface', value: 'pxe' }], "Setting 'boot_interface' is not supported by this service"],
    [[{ op: 'add', path: '/bogus', value: 1 }], 'Cannot patch /bogus. Only the following can be updated: name, driver,'],
    [[{ op: 'replace', path: '/instance_uuid', value: 'nope' }], 'Expected UUID for instance_uuid: nope'],
  ])('refuses %j', (ops, message) => {
    expect(failure(() => applyNodePatch(stored(), ops))).toContain(message);
  });
});

describe('console stamp', () => {
  it('follows the console revision and generation, not every write', () => {
    expect(NodeRepository.stampOf(stored({ rev: 9, console_rev: 2, console_generation: 4 }))).toBe('2.4');
  });
});

describe('maskInstanceInfo', () => {
  it('masks secrets at any depth, as Ironic without show_instance_secrets', () => {
    expect(
      maskInstanceInfo({
        image_source: 'glance://x',
        image_url: 'http://swift/temp?sig=abc',
        configdrive: 'H4sIAAAA',
        admin_password: 'pw',
        nested: { auth_token: 't', plain: 1 },
        empty_password: '',
      }),
    ).toEqual({ image_source: 'glance://x', image_url: '******', configdrive: '******', admin_password: '******', nested: { auth_token: '******', plain: 1 }, empty_password: '' });
  });
});
