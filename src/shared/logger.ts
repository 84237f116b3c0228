import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs. Only ids, codes and timings are logged: never a
 * token, a name, an ID number or a request's variables (personal data must
 * not reach log files, which are copied and kept far less carefully).
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'rescue-referral-hub' },
      redact: { paths: ['req.headers.authorization', '*.authorization', '*.token', 'token'], censor: '[redacted]' },
    },
    destination,
  );
}
