import { registerEnumType } from 'type-graphql';

export enum IntakeChannel {
  POLICE_ESCORT = 'POLICE_ESCORT',
  SELF_PRESENTED = 'SELF_PRESENTED',
  STREET_OUTREACH = 'STREET_OUTREACH',
  PUBLIC_REPORT = 'PUBLIC_REPORT',
  AGENCY_TRANSFER = 'AGENCY_TRANSFER',
}

export enum CaseStatus {
  OPEN = 'OPEN',
  CLOSED = 'CLOSED',
}

export enum CaseOutcome {
  RETURNED_ESCORTED = 'RETURNED_ESCORTED',
  RETURNED_FUNDED = 'RETURNED_FUNDED',
  RETURNED_FAMILY_PICKUP = 'RETURNED_FAMILY_PICKUP',
  LEFT_VOLUNTARILY = 'LEFT_VOLUNTARILY',
  PLACED_IN_WELFARE_HOME = 'PLACED_IN_WELFARE_HOME',
  DECEASED = 'DECEASED',
}

registerEnumType(IntakeChannel, {
  name: 'IntakeChannel',
  valuesConfig: {
    POLICE_ESCORT: { description: '公安护送' },
    SELF_PRESENTED: { description: '主动求助' },
    STREET_OUTREACH: { description: '街头救助 by a street outreach team' },
    PUBLIC_REPORT: { description: '群众 / 城管 / 环卫 report' },
    AGENCY_TRANSFER: { description: '转入 from another agency' },
  },
});
registerEnumType(CaseStatus, { name: 'CaseStatus' });
registerEnumType(CaseOutcome, {
  name: 'CaseOutcome',
  valuesConfig: {
    RETURNED_ESCORTED: { description: '护送返乡' },
    RETURNED_FUNDED: { description: '资助返乡 (travel voucher)' },
    RETURNED_FAMILY_PICKUP: { description: '接领返乡 (collected by family or employer)' },
    LEFT_VOLUNTARILY: { description: '自行离站' },
    PLACED_IN_WELFARE_HOME: { description: '安置 / 托养 in a welfare home' },
  },
});
