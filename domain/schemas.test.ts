// The primitives every field is built from: Text accepts exactly the strings
// PostgreSQL can store, Timestamp exactly the date-times of the years 1970–9999.
import fc from 'fast-check';
import { CreateIntegrationBody, CreateUserBody, Email, HookBody, LeadInput, Text, Timestamp } from './schemas';

/** What PostgreSQL's text and jsonb take: well-formed UTF-16 (no lone surrogate), no NUL. */
const storable = (s: string) => (s as string & { isWellFormed(): boolean }).isWellFormed() && !s.includes('\u0000');

test('Text accepts a string exactly when it is well-formed Unicode with no NUL', () => {
  const strings = fc.oneof(
    fc.string({ unit: 'binary' }),
    fc.string({ unit: 'grapheme' }),
    fc.string({ unit: fc.constantFrom('a', '\u0000', '\ud800', '\udfff', '\ud83d', '\ude00', '😀', 'é') }),
  );
  fc.assert(
    fc.property(strings, (s) => {
      expect(Text.safeParse(s).success).toBe(storable(s));
    }),
    { numRuns: 2_000 },
  );
  expect(Text.safeParse('cut emoji \ud83d').success).toBe(false);
  expect(Text.safeParse('whole emoji \ud83d\ude00').success).toBe(true);
});

test('Timestamp accepts a date-time exactly when its year is 1970–9999', () => {
  fc.assert(
    fc.property(fc.date({ min: new Date('0000-01-01T00:00:00Z'), max: new Date('+012000-01-01T00:00:00Z'), noInvalidDate: true }), (d) => {
      const iso = d.toISOString();
      const year = d.getUTCFullYear();
      expect(Timestamp.safeParse(iso).success).toBe(year >= 1970 && year <= 9999);
    }),
    { numRuns: 2_000 },
  );
  expect(Timestamp.safeParse('0000-01-01T00:00:00Z').success).toBe(false);
  expect(Timestamp.safeParse('1970-01-01T00:00:00Z').success).toBe(true);
  expect(Timestamp.safeParse('9999-12-31T23:59:59+01:00').success).toBe(true);
  // As an instant too: these are in 10000 and 1969 (UTC).
  expect(Timestamp.safeParse('9999-12-31T23:59:59-01:00').success).toBe(false);
  expect(Timestamp.safeParse('1970-01-01T00:00:00+00:30').success).toBe(false);
  expect(Timestamp.safeParse('1970-01-01T00:00:00-00:30').success).toBe(true);
  expect(Timestamp.safeParse('tomorrow').success).toBe(false);
});

test('Email takes the addresses RFC 5322 writes (an Entra guest, specials or any script in the local part, a punycode domain), trimmed, NFC and lower-cased', () => {
  for (const [given, kept] of [
    [' John_gmail.com#EXT#@Tenant.onmicrosoft.com ', 'john_gmail.com#ext#@tenant.onmicrosoft.com'],
    ["first/last&o'brien=x~y@example.com", "first/last&o'brien=x~y@example.com"],
    ['Jörg@example.de', 'jörg@example.de'],
    // One mailbox, one string: a decomposed ö is the composed one.
    ['Jo\u0308rg@example.de', 'jörg@example.de'],
    ['a@xn--mnchen-3ya.de', 'a@xn--mnchen-3ya.de'],
    ['"quoted name"@example.com', '"quoted name"@example.com'],
    ['a@[192.0.2.1]', 'a@[192.0.2.1]'],
  ]) {
    expect(Email.parse(given)).toBe(kept);
  }
  for (const refused of [
    'not-an-email',
    'a..b@example.com',
    '.a@example.com',
    'a.@example.com',
    'a@example',
    'a@.example.com',
    'a b@example.com',
    'a@b@example.com',
    'a@example.c',
    // Two addresses in one, control and format characters, a label's hyphen at its edge, an octet past 255.
    '"x"@evil.test,"y"@example.com',
    'a\u0001b@example.com',
    'a\u202eb@example.com',
    'a\u200bb@example.com',
    'a@-x.example.com',
    'a@[999.0.2.1]',
    // A domain in another script is written as its punycode (the same mailbox as one string).
    'jörg@münchen.de',
    `${'a'.repeat(310)}@example.com`,
  ]) {
    expect({ refused, ok: Email.safeParse(refused).success }).toEqual({ refused, ok: false });
  }
});

// The documents (OpenAPI) give maxLength on the value as sent, and `\S` where a blank is refused:
// what the schemas check must be that, not the length after trimming.
test('trimmed fields: the length limit holds on the value as sent, and a blank is refused where the document says so', () => {
  const fieldsOf = (r: { success: boolean; error?: { issues: { path: PropertyKey[] }[] } }) =>
    r.success ? [] : r.error!.issues.map((i) => i.path.join('.'));
  const user = (name: string) => CreateUserBody.safeParse({ name, email: 'a@example.test', role: 'MEMBER' });
  expect(fieldsOf(user(`${'n'.repeat(200)}  `))).toEqual(['name']);
  expect(user(` ${'n'.repeat(198)} `).data?.name).toBe('n'.repeat(198));
  const integration = (source: string) =>
    CreateIntegrationBody.safeParse({ name: 'web form', source, distribution: [{ userId: 'u1', weight: 1 }] });
  expect(fieldsOf(integration(`${'s'.repeat(200)} `))).toEqual(['source']);
  expect(fieldsOf(integration(' '))).toEqual(['source']);
  expect(integration(' web ').data?.source).toBe('web');
  const hook = (employeeId: string) => HookBody.safeParse({ email: 'a@example.test', employeeId });
  expect(fieldsOf(hook(`${'e'.repeat(200)} `))).toEqual(['employeeId']);
  expect(fieldsOf(hook('   '))).toEqual(['employeeId']);
  expect(hook(' E-1 ').data?.employeeId).toBe('E-1');
  expect(fieldsOf(LeadInput.safeParse({ name: 'lead', phone: `${'1'.repeat(64)} ` }))).toEqual(['phone']);
  expect(fieldsOf(LeadInput.safeParse({ name: 'lead', email: `${'x'.repeat(320)} ` }))).toEqual(['email']);
  expect(LeadInput.safeParse({ name: 'lead', phone: ' +1 555 ', email: ' ' }).data).toEqual({ name: 'lead', phone: '+1 555', email: '' });
  const email = `${'a'.repeat(306)}@example.test`; // 319 characters
  expect(fieldsOf(HookBody.safeParse({ email: ` ${email}  ` }))).toEqual(['email']);
  expect(HookBody.safeParse({ email: ` ${email}` }).data?.email).toBe(email);
});
