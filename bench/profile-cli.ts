import { summarizeProfile } from './profile';

/** `npx ts-node --transpile-only bench/profile-cli.ts <file.cpuprofile>`: a whole profile ranked by self time. */
const file = process.argv[2];
if (!file) {
  console.error('usage: bench/profile-cli.ts <file.cpuprofile>');
  process.exit(2);
}
console.log(JSON.stringify(summarizeProfile(file), null, 1));
