// Voucherify's own request-body schema for custom events (../shared/voucherify, from their OpenAPI spec):
// every event reftrack sends must validate against it. Shared by the unit and the browser tests.
import { Ajv } from "ajv";
import formats from "ajv-formats";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

// Resolved from the repository root, where every test runner is started (npm scripts, .ci/run); shared/ sits beside it.
export const VOUCHERIFY_SCHEMA_PATH = resolve(process.cwd(), "../shared/voucherify/voucherify-event.schema.json");

// ajv-formats is CommonJS: its plugin is the default export, or that export's own `default` under some loaders.
const addFormats = ((formats as unknown as { default?: unknown }).default ?? formats) as (ajv: Ajv) => Ajv;

/** Returns ajv's error list for a body that does not validate, or null when it does. */
export function voucherifyErrors(): (body: unknown) => string | null {
  const ajv = addFormats(new Ajv({ allErrors: true, strict: false }));
  const validate = ajv.compile(JSON.parse(readFileSync(VOUCHERIFY_SCHEMA_PATH, "utf8")) as object);
  return (body) => (validate(body) ? null : ajv.errorsText(validate.errors));
}
