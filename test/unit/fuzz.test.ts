// @vitest-environment node
// Property-based tests (fast-check): whatever the input, only a ValidationError is thrown, and nothing the schema
// forbids is ever accepted. "Forbids" is judged by a reference check written plainly here, not by superstruct.
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { openDb } from "../../src/collector/db.js";
import { buildCollector } from "../../src/collector/server.js";
import { createEventStore } from "../../src/collector/store.js";
import { checkCustomer } from "../../src/identity.js";
import { findReferralCode, REFERRAL_CODE } from "../../src/referral.js";
import { compileSchema, MAX_DEPTH, MAX_STRING, PROPERTY_TYPES, schemaless, ValidationError, type EventDefinition, type PropertyDefinition, type SchemaDocument } from "../../src/schema.js";
import { checkWireEvent, parseBatch } from "../../src/wire.js";

const RUNS = { numRuns: 300 };

const onlyValidationErrors = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
  }
};

// --- A reference for "what the schema allows", independent of src/schema.ts -----------------------------------

function isJsonWithinLimits(value: unknown, depth = 0): boolean {
  if (value === null || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (typeof value === "string") return value.length <= MAX_STRING;
  if (depth >= MAX_DEPTH || typeof value !== "object") return false;
  if (Array.isArray(value)) return value.every((item) => isJsonWithinLimits(item, depth + 1));
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) return false;
  return Object.values(value).every((item) => isJsonWithinLimits(item, depth + 1));
}

function allowedValue(definition: PropertyDefinition, value: unknown): boolean {
  if (definition.enum && !definition.enum.includes(value as string | number)) return false;
  switch (definition.type) {
    case "string":
      return typeof value === "string" && value.length <= MAX_STRING;
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "boolean":
      return typeof value === "boolean";
    case "date":
      return typeof value === "string" && /^\d{4}-\d{2}-\d{2}$/.test(value) && new Date(`${value}T00:00:00Z`).toISOString().startsWith(value);
    case "datetime":
      return typeof value === "string" && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(value) && !Number.isNaN(Date.parse(value));
    case "object":
      return typeof value === "object" && value !== null && !Array.isArray(value) && isJsonWithinLimits(value, 1);
    case "array":
      return Array.isArray(value) && isJsonWithinLimits(value, 1);
  }
}

/** `track(name)` and `track(name, null)` mean "no metadata": the same as `{}`. */
function allowedMetadata(definition: EventDefinition, given: unknown): boolean {
  const metadata = given ?? {};
  if (typeof metadata !== "object" || Array.isArray(metadata)) return false;
  const properties = definition.properties ?? {};
  for (const [key, property] of Object.entries(properties)) {
    const value = (metadata as Record<string, unknown>)[key];
    if (value === undefined) {
      if (property.required) return false;
    } else if (!allowedValue(property, value)) return false;
  }
  for (const [key, value] of Object.entries(metadata)) {
    if (key in properties) continue;
    if (!definition.additional_properties || !isJsonWithinLimits(value, 1)) return false;
  }
  return true;
}

// --- Generators -----------------------------------------------------------------------------------------------

const propertyName = fc.stringMatching(/^[a-z_][a-z0-9_]{0,8}$/);
const propertyDefinition: fc.Arbitrary<PropertyDefinition> = fc
  .record({ type: fc.constantFrom(...PROPERTY_TYPES), required: fc.option(fc.boolean(), { nil: undefined }) }, { requiredKeys: ["type"] })
  .chain((definition) =>
    definition.type === "string"
      ? fc.option(fc.uniqueArray(fc.string({ maxLength: 6 }), { minLength: 1, maxLength: 4 }), { nil: undefined }).map((values) => (values ? { ...definition, enum: values } : definition))
      : definition.type === "number"
        ? fc.option(fc.uniqueArray(fc.integer({ min: -5, max: 5 }), { minLength: 1, maxLength: 4 }), { nil: undefined }).map((values) => (values ? { ...definition, enum: values } : definition))
        : fc.constant(definition),
  );
const eventDefinition: fc.Arbitrary<EventDefinition> = fc.record(
  { properties: fc.dictionary(propertyName, propertyDefinition, { maxKeys: 4 }), additional_properties: fc.boolean(), customer: fc.constantFrom("required" as const, "optional" as const) },
  { requiredKeys: [] },
);
const schemaDocument: fc.Arbitrary<SchemaDocument> = fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), eventDefinition, { minKeys: 1, maxKeys: 3 }).map((events) => ({ events }));

/** Values that hit the interesting edges of every type, plus anything at all. */
const edgyValue = fc.oneof(
  fc.constantFrom("", "x", "3", "true", "2019-01-25", "2019-02-30", "2019-01-25T14:30:00Z", "2019-01-25T14:30", "[1]", '{"a":1}', "NaN", "1e400", "x".repeat(10_000), "x".repeat(10_001)),
  fc.constant({ a: { b: { c: { d: { e: 1 } } } } }),
  fc.constantFrom(0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, true, false, null),
  fc.jsonValue({ maxDepth: 7 }),
  fc.anything({ maxDepth: 3 }),
);

// --- Properties -----------------------------------------------------------------------------------------------

describe("what the fuzzer found", () => {
  // superstruct throws a TypeError while writing a message about such a value; it must be an issue instead.
  const hostile = { "": { toString: "" } };

  it("a customer holding an object whose toString is not a function is a ValidationError", () => {
    expect(() => checkCustomer(hostile)).toThrow(ValidationError);
  });

  it("a schema holding one is refused with a ValidationError", () => {
    expect(() => compileSchema({ events: { "": { "": { toString: null } } } })).toThrow(ValidationError);
  });

  it("metadata holding one is valid JSON (a key may be called toString) and is accepted; a bad batch item is an issue", () => {
    expect(schemaless.check({ event: "e", metadata: { a: { toString: 1 }, b: [{ toString: "" }] }, identified: false })).toEqual({ ok: true, metadata: { a: { toString: 1 }, b: [{ toString: "" }] } });
    expect(checkWireEvent({ id: hostile, event: "e" }, schemaless).issues.length).toBeGreaterThan(0);
    expect(compileSchema({ events: { e: { properties: { n: { type: "number" } } } } }).check({ event: "e", metadata: { n: hostile }, identified: true }).ok).toBe(false);
  });
});

describe("schema parsing", () => {
  it("any value at all: a checker, or a ValidationError naming a path", () => {
    fc.assert(fc.property(fc.anything({ maxDepth: 5 }), (document) => onlyValidationErrors(() => compileSchema(document))), RUNS);
    fc.assert(fc.property(fc.record({ events: fc.dictionary(fc.string(), fc.anything({ maxDepth: 4 })) }), (document) => onlyValidationErrors(() => compileSchema(document))), RUNS);
  });

  it("generated schemas compile", () => {
    fc.assert(
      fc.property(schemaDocument, (document) => {
        expect(compileSchema(document).events?.length).toBe(Object.keys(document.events).length);
      }),
      RUNS,
    );
  });
});

describe("checking events", () => {
  const metadataFor = (definition: EventDefinition) =>
    fc.oneof(
      fc.record(Object.fromEntries(Object.keys(definition.properties ?? {}).map((key) => [key, edgyValue])), { requiredKeys: [] }),
      fc.dictionary(fc.oneof(propertyName, fc.constantFrom(...Object.keys(definition.properties ?? {}), "x")), edgyValue, { maxKeys: 5 }),
      edgyValue,
    );

  it("accepts nothing the schema forbids, and never throws", () => {
    fc.assert(
      fc.property(
        schemaDocument.chain((document) => {
          const names = Object.keys(document.events);
          // Names the schema does not have are drawn too: they must never be accepted.
          return fc.tuple(fc.constant(document), fc.constantFrom(...names, "not_in_the_schema")).chain(([doc, name]) => fc.tuple(fc.constant(doc), fc.constant(name), metadataFor(doc.events[name] ?? {}), fc.boolean()));
        }),
        ([document, name, metadata, identified]) => {
          const result = compileSchema(document).check({ event: name, metadata, identified });
          const definition = document.events[name] ?? {};
          if (result.ok) {
            expect(Object.hasOwn(document.events, name)).toBe(true);
            expect(allowedMetadata(definition, metadata)).toBe(true);
            expect(definition.customer !== "required" || identified).toBe(true);
          } else {
            expect(result.issues.length).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("converting attribute strings: the converted metadata is what the schema allows", () => {
    fc.assert(
      fc.property(
        schemaDocument.chain((document) => {
          const name = Object.keys(document.events)[0] ?? "";
          const keys = Object.keys(document.events[name]?.properties ?? {});
          const attributeValue = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom("3", " 2.5 ", "true", "FALSE", "2019-01-25", "2019-01-25T14:30", "[1,2]", '{"a":1}', "5"), fc.boolean());
          return fc.tuple(fc.constant(document), fc.constant(name), fc.dictionary(keys.length > 0 ? fc.constantFrom(...keys) : propertyName, attributeValue, { maxKeys: 4 }));
        }),
        ([document, name, attributes]) => {
          const result = compileSchema(document).check({ event: name, metadata: attributes, identified: true }, { convert: true });
          if (result.ok) expect(allowedMetadata(document.events[name] ?? {}, result.metadata)).toBe(true);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("without a schema, only JSON within the limits is accepted", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 310 }), edgyValue, (name, metadata) => {
        const result = schemaless.check({ event: name, metadata, identified: false });
        if (result.ok) {
          expect(name.length >= 1 && name.length <= 300).toBe(true);
          const given = metadata ?? {};
          expect(typeof given === "object" && !Array.isArray(given) && isJsonWithinLimits(given)).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it("customers: anything at all is a customer or a ValidationError", () => {
    fc.assert(fc.property(fc.anything({ maxDepth: 3 }), (input) => onlyValidationErrors(() => checkCustomer(input))), RUNS);
  });
});

describe("URL parsing", () => {
  it("never throws, and whatever it finds is a valid code from a configured parameter", () => {
    const params = ["ref", "via"];
    fc.assert(
      fc.property(fc.oneof(fc.webUrl({ withQueryParameters: true, withFragments: true }), fc.string()), fc.string({ maxLength: 80 }), (base, value) => {
        for (const url of [base, `${base}${base.includes("?") ? "&" : "?"}ref=${encodeURIComponent(value)}`]) {
          const result = findReferralCode(url, params);
          if (result.found) {
            expect(result.code).toMatch(REFERRAL_CODE);
            expect(params).toContain(result.param);
          }
        }
        const valid = REFERRAL_CODE.test(value);
        const direct = findReferralCode(`https://site.example/?ref=${encodeURIComponent(value)}`, params);
        expect(direct.found).toBe(valid);
      }),
      RUNS,
    );
  });
});

describe("the collector's request parsing", () => {
  const db = openDb(":memory:");
  const appPromise = buildCollector({ store: createEventStore(db, { forwarding: false }), checker: schemaless, allowOrigin: () => true, rateLimit: 1_000_000 });
  afterAll(async () => {
    await (await appPromise).close();
    db.close();
  });

  it("parseBatch and checkWireEvent take any value without throwing", () => {
    fc.assert(
      fc.property(fc.anything({ maxDepth: 5 }), (body) => {
        const parsed = parseBatch(body);
        if ("batch" in parsed) for (const item of parsed.batch) checkWireEvent(item, schemaless);
      }),
      RUNS,
    );
  });

  it("any body over HTTP gets 200, 400, 413 or 422: never a 500", async () => {
    const app = await appPromise;
    const body = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.jsonValue({ maxDepth: 5 }).map((value) => JSON.stringify(value)),
      fc.record({ sent_at: fc.constantFrom("2026-11-26T10:00:00.000Z", "x"), batch: fc.array(fc.anything({ maxDepth: 3 }), { maxLength: 5 }) }).map((value) => JSON.stringify(value)),
    );
    await fc.assert(
      fc.asyncProperty(body, fc.constantFrom("text/plain", "application/json"), async (payload, type) => {
        const response = await app.inject({ method: "POST", url: "/v1/batch", headers: { "content-type": type }, payload });
        expect([200, 400, 413, 422]).toContain(response.statusCode);
      }),
      { numRuns: 300 },
    );
  });
});
