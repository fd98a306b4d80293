import { describe, expect, it } from '@jest/globals';
import { ClusterView, type MemberView } from '#libs/cluster';
import { loadConfig } from '#libs/config';
import { validateNodeFields } from '#libs/nodes';

/**
 * The review's bug (§3.2), end to end in one process: a conductor configured with capital letters
 * in its group advertises what the config gives it, nodes ask the ring of their validated group,
 * and the two must meet.
 */
function memberFromConfig(env: Record<string, string>): MemberView {
  const config = loadConfig({ SOLGATE_CONDUCTOR_ID: 'c1', ...env });
  return {
    id: config.conductorId,
    incarnation: 'i1',
    state: 'alive',
    drained: false,
    lastHeartbeatMs: 0,
    joinedAtMs: 0,
    alive: true,
    apiUrl: config.apiUrl,
    consoleAddress: config.socatAddress,
    group: config.conductorGroup,
    hostname: 'h',
    pid: 1,
    version: '0',
  };
}

describe('conductor group case', () => {
  it.each([
    ['Rack1', 'rack1'],
    ['rack1', 'Rack1'],
    ['RACK1', 'rAcK1'],
  ])('a conductor in group %j owns a node in group %j', (conductorGroup, nodeGroup) => {
    const view = new ClusterView({ nowMs: 0, takeoverHold: false, members: [memberFromConfig({ SOLGATE_CONDUCTOR_GROUP: conductorGroup })] }, 16);
    const node = validateNodeFields({ driver: 'ipmi', conductor_group: nodeGroup });
    expect(view.ownerOf(node.uuid, node.conductor_group)).toBe('c1');
  });
});
