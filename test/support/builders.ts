import { CreateAgencyDocument, IssueAccessTokenDocument, type AgencyKind, type AccountRole } from '../generated/graphql';
import type { TestHub } from './hub';

export interface TestAgency {
  id: string;
  name: string;
  regionCode: string;
  /** A STAFF account's token. */
  token: string;
  /** A SUPERVISOR account's token. */
  supervisorToken: string;
}

export async function anAgency(hub: TestHub, kind: AgencyKind, name: string, regionCode: string, shortCode?: string): Promise<TestAgency> {
  const { createAgency } = await hub.ok(CreateAgencyDocument, { input: { kind, name, regionCode, shortCode } }, hub.adminToken);
  const token = async (role: AccountRole) =>
    (await hub.ok(IssueAccessTokenDocument, { input: { agencyId: createAgency.id, displayName: `${name} ${role}`, role } }, hub.adminToken))
      .issueAccessToken.token;
  return { id: createAgency.id, name, regionCode, token: await token('STAFF'), supervisorToken: await token('SUPERVISOR') };
}

/**
 * The agencies of the second seed (衡阳 / 湖南) plus a welfare home and the
 * origin office of the man's home prefecture, and a stranger station elsewhere.
 */
export async function theSeedAgencies(hub: TestHub) {
  const [station, police, hospital, welfareHome, originOffice, otherStation] = await Promise.all([
    anAgency(hub, 'RESCUE_STATION', '衡阳市救助管理站', '430406', 'HY'),
    anAgency(hub, 'POLICE_STATION', '长湖派出所', '430406'),
    anAgency(hub, 'PSYCHIATRIC_HOSPITAL', '衡阳市第二精神病医院', '430406'),
    anAgency(hub, 'WELFARE_HOME', '衡阳市社会福利院', '430406'),
    anAgency(hub, 'CIVIL_AFFAIRS_OFFICE', '邵阳市民政局', '430500'),
    anAgency(hub, 'RESCUE_STATION', '广州市救助管理站', '440103', 'GZ'),
  ]);
  return { station, police, hospital, welfareHome, originOffice, otherStation };
}
