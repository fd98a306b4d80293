import { nodeFieldDefaults, type NodeRecord } from '#libs/nodes';

/**
 * A complete NodeRecord for unit specs: an enabled ipmitool-socat node with generation 2; a spec
 * overrides what its table is about.
 */
export function testNode(over: Partial<NodeRecord> = {}): NodeRecord {
  return {
    uuid: '11111111-1111-4111-8111-111111111111',
    name: 'n1',
    driver: 'ipmi',
    console_interface: 'ipmitool-socat',
    driver_info: { ipmi_address: '10.0.0.1' },
    conductor_group: '',
    description: null,
    extra: {},
    properties: {},
    ...nodeFieldDefaults(),
    console_rev: 1,
    console_enabled: true,
    console_generation: 2,
    provision_state: 'enroll',
    created_at: 0,
    updated_at: null,
    rev: 1,
    ...over,
  };
}
