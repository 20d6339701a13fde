// Voucherify's own request-body schema for custom events (../shared/voucherify, from their OpenAPI spec):
// every event reftrack sends must validate against it. Shared by the unit and the browser tests.
import { Ajv } from "ajv";
import formats from "ajv-formats";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";

// Resolved from the repository root, where every test runner is started (npm scripts, .ci/run); shared/ sits beside
// it, as in CI. VOUCHERIFY_SCHEMA points elsewhere for other layouts.
export const VOUCHERIFY_SCHEMA_PATH = process.env.VOUCHERIFY_SCHEMA ?? resolve(process.cwd(), "../shared/voucherify/voucherify-event.schema.json");

// ajv-formats is CommonJS: its plugin is the default export, or that export's own `default` under some loaders.
const addFormats = ((formats as unknown as { default?: unknown }).default ?? formats) as (ajv: Ajv) => Ajv;

/** Returns ajv's error list for a body that does not validate, or null when it does. */
export function voucherifyErrors(): (body: unknown) => string | null {
  if (!existsSync(VOUCHERIFY_SCHEMA_PATH)) {
    throw new Error(
      `Voucherify's event schema is not at ${VOUCHERIFY_SCHEMA_PATH}: the tests check every event against it. Clone the project beside shared/ (as CI does), or set VOUCHERIFY_SCHEMA to the file.`,
    );
  }
  const ajv = addFormats(new Ajv({ allErrors: true, strict: false }));
  const validate = ajv.compile(JSON.parse(readFileSync(VOUCHERIFY_SCHEMA_PATH, "utf8")) as object);
  return (body) => (validate(body) ? null : ajv.errorsText(validate.errors));
}
