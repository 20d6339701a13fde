// Entry of the npm package: `import { createTracker } from "reftrack"`.
export { createTracker, type Tracker, type TrackerEdges } from "./tracker.js";
export type { TrackerOptions } from "./options.js";
export {
  compileSchema,
  defineSchema,
  ValidationError,
  type EventChecker,
  type EventDefinition,
  type Issue,
  type Json,
  type JsonObject,
  type MetadataOf,
  type PropertyDefinition,
  type PropertyType,
  type SchemaDocument,
} from "./schema.js";
export type { Customer } from "./identity.js";
export type { Referral, Attribution } from "./referral.js";
export type { WireEvent, PageContext } from "./event.js";
export type { RejectedEvent } from "./transport.js";
export { memoryStore, type KeyValueStore } from "./storage.js";
export { ConsentError, type ConsentState } from "./consent.js";
