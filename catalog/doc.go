// Package catalog holds the entities a user registers: streams now, schemas
// and event contracts as they arrive. Entities are persisted in the shared
// Pebble database (key space store.SpaceCatalog) and served from memory: the
// catalogue is small and read on every request.
//
// Stream credentials are an OAuth2-style client id and secret. The secret is
// returned once, at creation; only its SHA-256 is stored (it is 256 random
// bits, so a plain hash is enough to make the stored form useless).
package catalog
