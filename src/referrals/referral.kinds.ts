import { AgencyKind } from '../auth/actor';
import type { ReferralKindName } from '../shared/config';
import { ReferralKind as K } from './referral.enums';

/** Where each kind of referral may go (DOMAIN.md §4, kind rules). */
export const RECEIVER_KIND: Record<ReferralKindName, AgencyKind> = {
  ESCORT_TO_STATION: AgencyKind.RESCUE_STATION,
  PSYCHIATRIC_EVALUATION: AgencyKind.PSYCHIATRIC_HOSPITAL,
  RETURN_TO_ORIGIN: AgencyKind.CIVIL_AFFAIRS_OFFICE,
  WELFARE_PLACEMENT: AgencyKind.WELFARE_HOME,
  RETURN_TO_STATION: AgencyKind.RESCUE_STATION,
};

/** Kinds that end the station's case on receipt, and so need an open case to end. */
export const NEEDS_OPEN_CASE: readonly K[] = [K.RETURN_TO_ORIGIN, K.WELFARE_PLACEMENT];
