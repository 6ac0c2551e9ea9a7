// Formats the request validator checks more strictly than ajv-formats does. ajv accepts a leap
// second (23:59:60) that neither JavaScript's Date nor PostgreSQL can hold, so such a value passed
// validation and failed later as an Invalid Date inside SQL (a 500). A date-time here is RFC 3339
// §5.6 as every layer below can store it: a real calendar day, seconds 00–59, years 0001–9999,
// offsets within ±14:00 (the real-world range), and an instant both Date and PostgreSQL hold.
const rfc3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|([+-])(\d{2}):(\d{2}))$/;

export function isStrictDateTime(value: string): boolean {
  const m = rfc3339.exec(value);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  // Date.UTC maps years 0–99 to 1900–1999; setUTCFullYear does not.
  const probe = new Date(0);
  probe.setUTCFullYear(year, month, 0);
  if (day > probe.getUTCDate() || hour > 23 || minute > 59 || second > 59) return false;
  if (m[8].toUpperCase() !== 'Z') {
    const offsetMinutes = Number(m[10]) * 60 + Number(m[11]);
    if (Number(m[11]) > 59 || offsetMinutes > 14 * 60) return false;
  }
  // An offset can move year 0001 into year 0, which PostgreSQL has no room for.
  const instant = new Date(value);
  return !Number.isNaN(instant.getTime()) && instant.getUTCFullYear() >= 1 && instant.getFullYear() >= 1;
}

/** Handed to express-openapi-validator's `formats`, overriding ajv-formats' own. */
export const strictFormats = { 'date-time': isStrictDateTime };
