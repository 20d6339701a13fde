// IndexedDB for happy-dom: fake-indexeddb is a complete in-memory implementation of the spec.
import "fake-indexeddb/auto";
