/**
 * The calendar year in China (UTC+8, no daylight saving). Ages, birth-year
 * limits and case numbers all count in it, so that the hours between
 * midnight in Beijing and midnight UTC on New Year's night do not put a
 * person in last year.
 */
export function chinaYear(at: Date): number {
  return new Date(at.getTime() + 8 * 3_600_000).getUTCFullYear();
}
