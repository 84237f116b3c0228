import { registerEnumType } from 'type-graphql';
import { chinaYear } from '../shared/china-time';

export enum Gender {
  MALE = 'MALE',
  FEMALE = 'FEMALE',
  UNKNOWN = 'UNKNOWN',
}

export enum AgeGroup {
  MINOR = 'MINOR',
  ADULT = 'ADULT',
  ELDERLY = 'ELDERLY',
  UNKNOWN = 'UNKNOWN',
}

export enum IdentityStatus {
  UNKNOWN = 'UNKNOWN',
  SELF_REPORTED = 'SELF_REPORTED',
  VERIFIED = 'VERIFIED',
}

export enum Vulnerability {
  PHYSICAL_DISABILITY = 'PHYSICAL_DISABILITY',
  MENTAL_ILLNESS = 'MENTAL_ILLNESS',
  DEMENTIA_OR_INTELLECTUAL_DISABILITY = 'DEMENTIA_OR_INTELLECTUAL_DISABILITY',
  SENSORY_OR_SPEECH_DISABILITY = 'SENSORY_OR_SPEECH_DISABILITY',
  SERIOUS_ILLNESS_OR_INJURY = 'SERIOUS_ILLNESS_OR_INJURY',
}

registerEnumType(Gender, { name: 'Gender' });
registerEnumType(AgeGroup, {
  name: 'AgeGroup',
  description: '未成年人 under 18, 青壮年 18-59, 老年 60 and over.',
  valuesConfig: { UNKNOWN: { description: '年龄不详 no birth year known' } },
});
registerEnumType(IdentityStatus, {
  name: 'IdentityStatus',
  valuesConfig: {
    UNKNOWN: { description: '身份不明 no usable identity' },
    SELF_REPORTED: { description: '自述 stated by the person, not checked' },
    VERIFIED: { description: '核实 checked against household registration by the police' },
  },
});
registerEnumType(Vulnerability, {
  name: 'Vulnerability',
  valuesConfig: {
    PHYSICAL_DISABILITY: { description: '肢体残疾' },
    MENTAL_ILLNESS: { description: '精神障碍 (suspected or diagnosed)' },
    DEMENTIA_OR_INTELLECTUAL_DISABILITY: { description: '痴呆 / 智力障碍' },
    SENSORY_OR_SPEECH_DISABILITY: { description: '盲聋哑' },
    SERIOUS_ILLNESS_OR_INJURY: { description: '危重病 / 外伤' },
  },
});

/** DOMAIN.md §3: under 18 MINOR, 60 and over ELDERLY, else ADULT; UNKNOWN without a birth year. */
export function ageGroupOf(birthYear: number | null, at: Date): AgeGroup {
  if (birthYear === null) return AgeGroup.UNKNOWN;
  const age = chinaYear(at) - birthYear;
  if (age < 18) return AgeGroup.MINOR;
  if (age >= 60) return AgeGroup.ELDERLY;
  return AgeGroup.ADULT;
}
