import { registerEnumType } from 'type-graphql';

export enum ReferralKind {
  ESCORT_TO_STATION = 'ESCORT_TO_STATION',
  PSYCHIATRIC_EVALUATION = 'PSYCHIATRIC_EVALUATION',
  RETURN_TO_ORIGIN = 'RETURN_TO_ORIGIN',
  WELFARE_PLACEMENT = 'WELFARE_PLACEMENT',
  RETURN_TO_STATION = 'RETURN_TO_STATION',
}

export enum ReferralStatus {
  REQUESTED = 'REQUESTED',
  ACCEPTED = 'ACCEPTED',
  IN_TRANSIT = 'IN_TRANSIT',
  RECEIVED = 'RECEIVED',
  REJECTED = 'REJECTED',
  CANCELLED = 'CANCELLED',
  EXPIRED = 'EXPIRED',
}

export enum RejectionReason {
  NO_CAPACITY = 'NO_CAPACITY',
  NOT_IN_JURISDICTION = 'NOT_IN_JURISDICTION',
  NEEDS_PSYCHIATRIC_EVALUATION = 'NEEDS_PSYCHIATRIC_EVALUATION',
  NEEDS_MEDICAL_TREATMENT = 'NEEDS_MEDICAL_TREATMENT',
  IDENTITY_NOT_ESTABLISHED = 'IDENTITY_NOT_ESTABLISHED',
  OTHER = 'OTHER',
}

export enum ReferralEventType {
  REQUESTED = 'REQUESTED',
  ACCEPTED = 'ACCEPTED',
  REJECTED = 'REJECTED',
  CANCELLED = 'CANCELLED',
  DISPATCHED = 'DISPATCHED',
  RECEIVED = 'RECEIVED',
  EXPIRED = 'EXPIRED',
  DIAGNOSIS_RECORDED = 'DIAGNOSIS_RECORDED',
  BED_ASSIGNED = 'BED_ASSIGNED',
}

/** A referral in one of these holds the person's single open-referral slot. */
export const OPEN_STATUSES = [ReferralStatus.REQUESTED, ReferralStatus.ACCEPTED, ReferralStatus.IN_TRANSIT] as const;

registerEnumType(ReferralKind, {
  name: 'ReferralKind',
  valuesConfig: {
    ESCORT_TO_STATION: { description: '公安护送入站 police → station' },
    PSYCHIATRIC_EVALUATION: { description: '精神病鉴定 / 救治 → psychiatric hospital' },
    RETURN_TO_ORIGIN: { description: '返乡 station → origin civil-affairs office' },
    WELFARE_PLACEMENT: { description: '安置 / 托养 station → welfare home' },
    RETURN_TO_STATION: { description: '出院 / 回站 hospital or welfare home → station' },
  },
});
registerEnumType(ReferralStatus, {
  name: 'ReferralStatus',
  valuesConfig: {
    REQUESTED: { description: 'sent; awaiting the receiving agency' },
    ACCEPTED: { description: 'the receiving agency will take the person' },
    IN_TRANSIT: { description: 'the person has left the sender, with an escort' },
    RECEIVED: { description: 'the receiving agency confirmed arrival; custody has passed' },
    REJECTED: { description: 'declined by the receiving agency; custody unchanged' },
    CANCELLED: { description: 'withdrawn before arrival; custody back with the sender' },
    EXPIRED: { description: 'not answered before its deadline' },
  },
});
registerEnumType(RejectionReason, { name: 'RejectionReason' });
registerEnumType(ReferralEventType, { name: 'ReferralEventType' });
